export { LeaderElection, type ElectionOptions, type LeaderElectionEvents } from './election.js';
export { DcBudgetStore, parseEntry, type DcBudgetOptions, type DcEntry } from './dc-budget.js';
