/**
 * A fixed-capacity ring buffer that remembers how many items it pushed out.
 *
 * @internal
 */
export interface Ring<A> {
  readonly push: (item: A) => void
  readonly toArray: () => Array<A>
  readonly dropped: () => number
  readonly size: () => number
}

/** @internal */
export const makeRing = <A>(capacity: number): Ring<A> => {
  const items: Array<A> = []
  let start = 0
  let dropped = 0
  return {
    push(item) {
      if (capacity <= 0) {
        dropped++
        return
      }
      if (items.length < capacity) {
        items.push(item)
        return
      }
      items[start] = item
      start = (start + 1) % capacity
      dropped++
    },
    toArray() {
      return start === 0 ? items.slice() : [...items.slice(start), ...items.slice(0, start)]
    },
    dropped: () => dropped,
    size: () => items.length
  }
}
