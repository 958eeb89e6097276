// A day's gathered rows as columns: numbers in typed arrays (times, ids of the usual form), strings as
// codes into one list of distinct values, the rare rest (errors, odd ids, odd links) aside by row. Each
// row is read through a small view (`ReportDeployment`, two fields), so a day of 50,000 deployments
// holds about 100 bytes a row where an object per row with its own id strings held about 400.
import type { Outcome, ReportDeployment } from './model.js';

const OUTCOMES: readonly Outcome[] = ['Success', 'Failed', 'TimedOut', 'Canceled', 'Other'];
const OUTCOME_INDEX = new Map(OUTCOMES.map((o, i) => [o, i]));

/** The number of an id `${prefix}${digits}` (digits as String(n) writes them), else NaN. */
export function idNumber(prefix: string, id: string): number {
  const digits = id.length - prefix.length;
  if (digits < 1 || digits > 15 || !id.startsWith(prefix)) return Number.NaN;
  if (digits > 1 && id.charCodeAt(prefix.length) === 0x30) return Number.NaN;
  for (let i = prefix.length; i < id.length; i++) {
    const c = id.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return Number.NaN;
  }
  return Number(id.slice(prefix.length));
}

/**
 * Ids such as `ServerTasks-123`: the number of each, and the whole id aside for another form. The
 * id is written out again when read (the report shows task ids only inside links).
 */
export class IdColumn {
  numbers: Float64Array;
  private readonly others = new Map<number, string>();

  constructor(
    readonly prefix: string,
    capacity: number,
  ) {
    this.numbers = new Float64Array(capacity);
  }

  set(row: number, id: string): void {
    const n = idNumber(this.prefix, id);
    this.numbers[row] = n;
    if (Number.isNaN(n) && id !== '') this.others.set(row, id);
  }

  get(row: number): string {
    const n = this.numbers[row] ?? Number.NaN;
    return Number.isNaN(n) ? (this.others.get(row) ?? '') : this.prefix + String(n);
  }

  /** The id's number, or NaN when it has another form (`get` then reads it). */
  number(row: number): number {
    return this.numbers[row] ?? Number.NaN;
  }

  resize(capacity: number): void {
    this.numbers = grown(this.numbers, capacity);
  }
}

function grown<T extends Float64Array | Int32Array | Uint8Array>(column: T, capacity: number): T {
  const next = new (column.constructor as new (n: number) => T)(capacity);
  next.set(column.subarray(0, Math.min(column.length, capacity)));
  return next;
}

/**
 * A small number for each distinct value (ids, names, versions, user names), so a day of 50,000
 * deployments keeps 50,000 integers per field instead of a string (or a copy of one) per row.
 */
export class Codes<T> {
  private readonly index = new Map<T, number>();
  readonly values: T[] = [];

  code(value: T): number {
    let code = this.index.get(value);
    if (code === undefined) {
      code = this.values.length;
      this.values.push(value);
      this.index.set(value, code);
    }
    return code;
  }
}

/** What a task says of its row, before its deployment is read. */
export interface TaskFacts {
  taskId: string;
  deploymentId: string;
  state: string;
  outcome: Outcome;
  started: number | undefined;
  completed: number;
  /** Epoch ms the task was queued, else NaN (for joining only). */
  queued: number;
  error: string;
  /** The task's ProjectId (newer servers), for scoping before the join. */
  projectId: string | undefined;
  /** Its link, when not `taskUrlPrefix` + the task id. */
  taskUrl: string | undefined;
}

export class RowTable {
  length = 0;
  private capacity: number;
  readonly taskIds: IdColumn;
  readonly deploymentIds: IdColumn;
  readonly strings = new Codes<string | undefined>();
  private started: Float64Array;
  private completed: Float64Array;
  /** Epoch ms queued, NaN when unknown: what joining tasks to deployments needs. */
  queued: Float64Array;
  private outcome: Uint8Array;
  private environmentOrder: Float64Array;
  /** Codes in `strings`. */
  taskProject: Int32Array;
  private project: Int32Array;
  private environment: Int32Array;
  private tenant: Int32Array;
  private version: Int32Array;
  private deployedBy: Int32Array;
  /** Non-empty errors, states of outcome `Other`, links of another form: rare, by row. */
  private readonly errors = new Map<number, string>();
  private readonly states = new Map<number, string>();
  private readonly taskUrls = new Map<number, string>();

  constructor(
    readonly space: string,
    /** A task's link is this followed by its id, unless `TaskFacts.taskUrl` says otherwise. */
    private readonly taskUrlPrefix: string,
    capacity = 1024,
  ) {
    this.capacity = Math.max(1, capacity);
    this.taskIds = new IdColumn('ServerTasks-', this.capacity);
    this.deploymentIds = new IdColumn('Deployments-', this.capacity);
    this.started = new Float64Array(this.capacity);
    this.completed = new Float64Array(this.capacity);
    this.queued = new Float64Array(this.capacity);
    this.outcome = new Uint8Array(this.capacity);
    this.environmentOrder = new Float64Array(this.capacity);
    this.taskProject = new Int32Array(this.capacity);
    this.project = new Int32Array(this.capacity);
    this.environment = new Int32Array(this.capacity);
    this.tenant = new Int32Array(this.capacity);
    this.version = new Int32Array(this.capacity);
    this.deployedBy = new Int32Array(this.capacity);
  }

  /** Room for at least this many rows (one allocation when the count is known up front). */
  reserve(rows: number): void {
    if (rows <= this.capacity) return;
    this.capacity = rows;
    this.taskIds.resize(rows);
    this.deploymentIds.resize(rows);
    this.started = grown(this.started, rows);
    this.completed = grown(this.completed, rows);
    this.queued = grown(this.queued, rows);
    this.outcome = grown(this.outcome, rows);
    this.environmentOrder = grown(this.environmentOrder, rows);
    this.taskProject = grown(this.taskProject, rows);
    this.project = grown(this.project, rows);
    this.environment = grown(this.environment, rows);
    this.tenant = grown(this.tenant, rows);
    this.version = grown(this.version, rows);
    this.deployedBy = grown(this.deployedBy, rows);
  }

  /** A row from its task, with the deployment's fields unknown until `setDeployment`. */
  add(task: TaskFacts): number {
    if (this.length === this.capacity) this.reserve(this.capacity * 2);
    const row = this.length++;
    this.taskIds.set(row, task.taskId);
    this.deploymentIds.set(row, task.deploymentId);
    this.started[row] = task.started ?? Number.NaN;
    this.completed[row] = task.completed;
    this.queued[row] = task.queued;
    this.outcome[row] = OUTCOME_INDEX.get(task.outcome) ?? OUTCOMES.length - 1;
    if (task.outcome === 'Other') this.states.set(row, task.state);
    if (task.error !== '') this.errors.set(row, task.error);
    if (task.taskUrl !== undefined) this.taskUrls.set(row, task.taskUrl);
    this.taskProject[row] = this.strings.code(task.projectId);
    this.project[row] = this.strings.code('unknown project');
    this.environment[row] = this.strings.code('unknown environment');
    this.environmentOrder[row] = Number.MAX_SAFE_INTEGER;
    this.tenant[row] = this.strings.code(undefined);
    this.version[row] = this.strings.code('');
    this.deployedBy[row] = this.strings.code('unknown');
    return row;
  }

  /** The task's ProjectId, when the server gave one. */
  taskProjectId(row: number): string | undefined {
    return this.strings.values[this.taskProject[row] ?? 0];
  }

  setProject(row: number, project: string): void {
    this.project[row] = this.strings.code(project);
  }

  setDeployment(
    row: number,
    d: {
      environment: string;
      environmentOrder: number;
      tenant: string | undefined;
      version: string;
      deployedBy: string;
    },
  ): void {
    this.environment[row] = this.strings.code(d.environment);
    this.environmentOrder[row] = d.environmentOrder;
    this.tenant[row] = this.strings.code(d.tenant);
    this.version[row] = this.strings.code(d.version);
    this.deployedBy[row] = this.strings.code(d.deployedBy);
  }

  /** Views of these rows (all of them without a list). */
  rows(positions?: readonly number[]): ReportDeployment[] {
    if (!positions) return Array.from({ length: this.length }, (_, row) => new RowView(this, row));
    return positions.map((row) => new RowView(this, row));
  }

  // Readers for the views.
  text(column: 'project' | 'environment' | 'version' | 'deployedBy', row: number): string {
    return this.strings.values[this[column][row] ?? 0] ?? '';
  }
  tenantOf(row: number): string | undefined {
    return this.strings.values[this.tenant[row] ?? 0];
  }
  orderOf(row: number): number {
    return this.environmentOrder[row] ?? Number.MAX_SAFE_INTEGER;
  }
  outcomeOf(row: number): Outcome {
    return OUTCOMES[this.outcome[row] ?? 0] ?? 'Other';
  }
  stateOf(row: number): string {
    const outcome = this.outcomeOf(row);
    return outcome === 'Other' ? (this.states.get(row) ?? '') : outcome;
  }
  startedOf(row: number): number | undefined {
    const ms = this.started[row] ?? Number.NaN;
    return Number.isNaN(ms) ? undefined : ms;
  }
  completedOf(row: number): number {
    return this.completed[row] ?? 0;
  }
  errorOf(row: number): string {
    return this.errors.get(row) ?? '';
  }
  taskUrlOf(row: number): string {
    return this.taskUrls.get(row) ?? this.taskUrlPrefix + this.taskIds.get(row);
  }
}

/** One row of a `RowTable`, read from its columns. */
class RowView implements ReportDeployment {
  constructor(
    private readonly table: RowTable,
    private readonly row: number,
  ) {}

  get space(): string {
    return this.table.space;
  }
  get deploymentId(): string {
    return this.table.deploymentIds.get(this.row);
  }
  get taskId(): string {
    return this.table.taskIds.get(this.row);
  }
  get project(): string {
    return this.table.text('project', this.row);
  }
  get environment(): string {
    return this.table.text('environment', this.row);
  }
  get environmentOrder(): number {
    return this.table.orderOf(this.row);
  }
  get tenant(): string | undefined {
    return this.table.tenantOf(this.row);
  }
  get version(): string {
    return this.table.text('version', this.row);
  }
  get outcome(): Outcome {
    return this.table.outcomeOf(this.row);
  }
  get state(): string {
    return this.table.stateOf(this.row);
  }
  get started(): number | undefined {
    return this.table.startedOf(this.row);
  }
  get completed(): number {
    return this.table.completedOf(this.row);
  }
  get durationMs(): number | undefined {
    const started = this.table.startedOf(this.row);
    return started === undefined
      ? undefined
      : Math.max(0, this.table.completedOf(this.row) - started);
  }
  get deployedBy(): string {
    return this.table.text('deployedBy', this.row);
  }
  get error(): string {
    return this.table.errorOf(this.row);
  }
  get taskUrl(): string | undefined {
    return this.table.taskUrlOf(this.row);
  }
}
