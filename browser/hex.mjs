// Hex arithmetic (docs/SPEC.md section 1), to plan a player's clicks.

const UNIT = [[1, 0], [1, -1], [0, -1], [-1, 0], [-1, 1], [0, 1]];
export const dist = (a, b) => (Math.abs(a.q - b.q) + Math.abs(a.r - b.r) + Math.abs(a.q + a.r - b.q - b.r)) / 2;
export const onBoard = (h, R) => Math.max(Math.abs(h.q), Math.abs(h.r), Math.abs(h.q + h.r)) <= R;

// The neighbouring hex of `from` that is closest to `to`.
export function stepToward(from, to, radius) {
  let best = null;
  for (const [dq, dr] of UNIT) {
    const h = { q: from.q + dq, r: from.r + dr };
    if (onBoard(h, radius) && (!best || dist(h, to) < dist(best, to))) best = h;
  }
  return best;
}
