export { choosePlacement, type Candidate } from './place.js'
