import { type Command, requireString, stringOption, parseSize, EXIT } from '../command.js'
import { DEFAULT_BLOCK_SIZE, formatCluster } from '../cluster-files.js'

export const formatCommand: Command = {
  name: 'format',
  summary: 'Create a new cluster: its id, block size and shared secret',
  usage: 'tessera format --dir DIR [--block-size SIZE] [--replication N] [--min-copies N] [--json]',
  details:
    'Writes DIR/cluster.json and DIR/secret (mode 0600). Give both files to every daemon of the\n' +
    'cluster. Refuses to overwrite a directory that already holds a cluster.',
  options: {
    dir: { type: 'string', value: 'DIR', description: 'where to write cluster.json and secret' },
    'block-size': { type: 'string', value: 'SIZE', description: 'largest block (default 4MiB; a multiple of 64KiB)' },
    replication: { type: 'string', value: 'N', description: 'copies of each block (default 3)' },
    'min-copies': { type: 'string', value: 'N', description: 'fewest copies a write may succeed with (default 2)' },
    json: { type: 'boolean', description: 'print the new cluster config as JSON' },
  },
  async run({ options, out }) {
    const dir = requireString(options, 'dir')
    const blockSizeText = stringOption(options, 'block-size')
    const config = await formatCluster(dir, {
      blockSize: blockSizeText === undefined ? DEFAULT_BLOCK_SIZE : parseSize(blockSizeText, 'block-size'),
      replication: Number(stringOption(options, 'replication') ?? 3),
      minCopies: Number(stringOption(options, 'min-copies') ?? 2),
    })
    if (options.json === true) out.write(JSON.stringify(config) + '\n')
    else out.write(`formatted cluster ${config.clusterId} in ${dir} (block size ${config.blockSize} bytes, ${config.replication} copies)\n`)
    return EXIT.ok
  },
}
