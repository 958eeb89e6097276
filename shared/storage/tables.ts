// The storage catalog: every Table Storage table the app uses and what it holds. Each store names its
// table from here. A table's name is stored data: renaming one loses its rows (a lost claim row can
// mean a second email), so the misleading ones keep their stored names and get honest names in code.
export const tableNames = {
  /** Lease locks and job locks: per lock a lock row, holder, waiter and index rows, and tombstones of ended leases. */
  locks: 'locks',
  /** Lock grant history (grants and how they ended), one partition per lock; kept 14 days. */
  lockHistory: 'lockhistory',
  /** Playbook runs, one row per run, the state in parts (jsonParts). */
  runs: 'runs',
  /** Octopus webhook events, stored once by Event.Id, and the processing watermark. */
  events: 'events',
  /**
   * Once-only claims, one row per thing done once: the daily report per day, the daily lock-history
   * prune and retention pass, promotion slots. Stored as `jobs` (its first use).
   */
  claims: 'jobs',
  /** The last run of each timer job (the status page's job list). */
  jobRuns: 'jobruns',
  /** Each set's combined state per environment (and tenant), and the last poll. */
  setStatus: 'setstatus',
  /** Watch emails claimed and sent, per watch and combination of releases. */
  watchMail: 'watchmail',
  /** ensure-deployed claims: one caller deploys a release to an environment at a time. */
  ensure: 'ensure',
  /** Scheduled promotion slots. */
  promotions: 'promotions',
  /** Coordinator freezes ("stop the line"): one row per freeze, lifted rather than deleted. */
  freezes: 'freezes',
  /** Release trains (one row per captured combination, in its set's partition) and which one is live where. */
  trains: 'trains',
  /** What could not be stored or delivered, kept for a person to look at. */
  deadLetters: 'deadletters',
} as const;

export type TableName = (typeof tableNames)[keyof typeof tableNames];

/** Honest name in code for the table that holds once-only claims (stored as `jobs`). */
export const claimsTable = tableNames.claims;
