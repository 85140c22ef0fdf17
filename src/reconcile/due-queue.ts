/**
 * The scheduler's queue: servers by the time they are next due — an indexed binary min-heap, a
 * server in it at most once. Each server keeps one entry object for its whole life (its heap
 * position is stored in it), so rescheduling 10,000 servers a pass allocates nothing.
 */
interface Entry {
  name: string;
  at: number;
  /** Ties in `at` go in scheduling order (fairness). */
  seq: number;
  /** Position in the heap; -1 when not scheduled. */
  idx: number;
}

export class DueQueue {
  private readonly heap: Entry[] = [];
  private readonly entries = new Map<string, Entry>();
  private seq = 0;

  get size(): number {
    return this.heap.length;
  }

  schedule(name: string, at: number): void {
    let e = this.entries.get(name);
    if (e === undefined) {
      e = { name, at, seq: 0, idx: -1 };
      this.entries.set(name, e);
    }
    e.at = at;
    e.seq = ++this.seq;
    if (e.idx < 0) {
      e.idx = this.heap.length;
      this.heap.push(e);
      this.up(e.idx);
    } else {
      this.up(e.idx);
      this.down(e.idx);
    }
  }

  /** Schedule only if that is sooner than what is already planned. */
  scheduleSooner(name: string, at: number): void {
    const e = this.entries.get(name);
    if (e === undefined || e.idx < 0 || at < e.at) this.schedule(name, at);
  }

  /** Takes a server out of the queue and forgets it (a server removed from the manifests). */
  remove(name: string): void {
    const e = this.entries.get(name);
    if (e === undefined) return;
    if (e.idx >= 0) this.removeAt(e.idx);
    this.entries.delete(name);
  }

  dueAt(name: string): number | undefined {
    const e = this.entries.get(name);
    return e !== undefined && e.idx >= 0 ? e.at : undefined;
  }

  peekTime(): number | undefined {
    return this.heap[0]?.at;
  }

  /** Removes and returns every server due at or before `now`, earliest first (`seen` gets each one's due time). */
  popDue(now: number, seen?: (name: string, at: number) => void): string[] {
    const out: string[] = [];
    for (;;) {
      const top = this.heap[0];
      if (top === undefined || top.at > now) break;
      this.removeAt(0);
      out.push(top.name);
      if (seen !== undefined) seen(top.name, top.at);
    }
    return out;
  }

  private removeAt(i: number): void {
    const e = this.heap[i] as Entry;
    const last = this.heap.pop() as Entry;
    e.idx = -1;
    if (last !== e) {
      this.heap[i] = last;
      last.idx = i;
      this.up(i);
      this.down(last.idx);
    }
  }

  private less(a: Entry, b: Entry): boolean {
    return a.at < b.at || (a.at === b.at && a.seq < b.seq);
  }

  private place(e: Entry, i: number): void {
    this.heap[i] = e;
    e.idx = i;
  }

  private up(i: number): void {
    const e = this.heap[i] as Entry;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const parent = this.heap[p] as Entry;
      if (!this.less(e, parent)) break;
      this.place(parent, i);
      i = p;
    }
    this.place(e, i);
  }

  private down(i: number): void {
    const n = this.heap.length;
    const e = this.heap[i] as Entry;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      let c = l;
      if (r < n && this.less(this.heap[r] as Entry, this.heap[l] as Entry)) c = r;
      const child = this.heap[c] as Entry;
      if (!this.less(child, e)) break;
      this.place(child, i);
      i = c;
    }
    this.place(e, i);
  }
}
