/**
 * The scheduler's queue: servers by the time they are next due (a binary min-heap). A server is
 * in it at most once; rescheduling replaces its entry (lazily: stale entries are skipped on pop).
 */
interface Entry {
  at: number;
  name: string;
  gen: number;
}

export class DueQueue {
  private heap: Entry[] = [];
  private readonly current = new Map<string, Entry>();
  private gen = 0;

  get size(): number {
    return this.current.size;
  }

  schedule(name: string, at: number): void {
    const e: Entry = { at, name, gen: ++this.gen };
    this.current.set(name, e);
    this.heap.push(e);
    this.up(this.heap.length - 1);
    // Keep stale entries from piling up when servers are rescheduled often.
    if (this.heap.length > 4 * this.current.size + 64) this.rebuild();
  }

  /** Schedule only if that is sooner than what is already planned. */
  scheduleSooner(name: string, at: number): void {
    const cur = this.current.get(name);
    if (cur === undefined || at < cur.at) this.schedule(name, at);
  }

  remove(name: string): void {
    this.current.delete(name);
  }

  dueAt(name: string): number | undefined {
    return this.current.get(name)?.at;
  }

  peekTime(): number | undefined {
    this.dropStale();
    return this.heap[0]?.at;
  }

  /** Removes and returns every server due at or before `now`, earliest first. */
  popDue(now: number): string[] {
    const out: string[] = [];
    for (;;) {
      this.dropStale();
      const top = this.heap[0];
      if (top === undefined || top.at > now) break;
      this.pop();
      this.current.delete(top.name);
      out.push(top.name);
    }
    return out;
  }

  private dropStale(): void {
    for (;;) {
      const top = this.heap[0];
      if (top === undefined || this.current.get(top.name) === top) return;
      this.pop();
    }
  }

  private rebuild(): void {
    this.heap = [...this.current.values()].sort((a, b) => a.at - b.at || a.gen - b.gen);
  }

  private less(i: number, j: number): boolean {
    const a = this.heap[i] as Entry;
    const b = this.heap[j] as Entry;
    return a.at < b.at || (a.at === b.at && a.gen < b.gen);
  }

  private swap(i: number, j: number): void {
    const t = this.heap[i] as Entry;
    this.heap[i] = this.heap[j] as Entry;
    this.heap[j] = t;
  }

  private up(i: number): void {
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(i, p)) break;
      this.swap(i, p);
      i = p;
    }
  }

  private pop(): void {
    const last = this.heap.pop();
    if (last === undefined || this.heap.length === 0) return;
    this.heap[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < this.heap.length && this.less(l, m)) m = l;
      if (r < this.heap.length && this.less(r, m)) m = r;
      if (m === i) break;
      this.swap(i, m);
      i = m;
    }
  }
}
