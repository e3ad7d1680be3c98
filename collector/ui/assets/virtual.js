// A list that draws only the rows in view (plus a few either side), so a
// build of 50,000 events or processes costs the page a few dozen nodes.
// Rows have one fixed height; `render(i)` makes row i's element.

export class VirtualList {
  constructor(container, {rowHeight = 28, render, overscan = 10, onNearEnd}) {
    this.container = container;
    this.rowHeight = rowHeight;
    this.render = render;
    this.overscan = overscan;
    this.onNearEnd = onNearEnd;
    this.count = 0;
    this.drawn = new Map();  // index -> element
    container.classList.add('virtual');
    this.spacer = document.createElement('div');
    this.spacer.className = 'virtual-spacer';
    container.append(this.spacer);
    container.addEventListener('scroll', () => this.draw(), {passive: true});
    this.resizer = new ResizeObserver(() => this.draw());
    this.resizer.observe(container);
  }

  setCount(n) {
    this.count = n;
    this.spacer.style.height = n * this.rowHeight + 'px';
    this.refresh();
  }

  // Draws every row in view again (their content changed).
  refresh() {
    for (const el of this.drawn.values()) el.remove();
    this.drawn.clear();
    this.draw();
  }

  draw() {
    const top = this.container.scrollTop;
    const height = this.container.clientHeight || 600;
    const first = Math.max(0, Math.floor(top / this.rowHeight) - this.overscan);
    const last = Math.min(this.count - 1, Math.ceil((top + height) / this.rowHeight) + this.overscan);
    for (const [i, el] of this.drawn) {
      if (i < first || i > last) {
        el.remove();
        this.drawn.delete(i);
      }
    }
    for (let i = first; i <= last; i++) {
      if (this.drawn.has(i)) continue;
      const el = this.render(i);
      el.classList.add('virtual-row');
      el.style.top = i * this.rowHeight + 'px';
      el.style.height = this.rowHeight + 'px';
      this.spacer.append(el);
      this.drawn.set(i, el);
    }
    if (this.onNearEnd && last >= this.count - 1 - this.overscan) this.onNearEnd();
  }

  // Scrolls just enough for row i to be in view.
  scrollToIndex(i) {
    const top = i * this.rowHeight;
    const bottom = top + this.rowHeight;
    const c = this.container;
    if (top < c.scrollTop) c.scrollTop = top;
    else if (bottom > c.scrollTop + c.clientHeight) c.scrollTop = bottom - c.clientHeight;
    this.draw();
  }

  element(i) {
    return this.drawn.get(i);
  }
}
