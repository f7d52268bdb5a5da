package sim

import (
	"encoding/binary"
	"hash/fnv"
)

// This file is the scheduler's automatic prefix cache, after vLLM V1's
// BlockPool and KV-cache managers: every full block of a request's tokens
// is known by a hash chained with its parent block's (kv_cache_utils.py
// hash_block_tokens), so equal hashes mean equal prefixes. A block whose
// request is done stays cached in the pool, counted as free, and a later
// request whose prompt starts with the same blocks holds it again
// (ref-counted, counted once in KV usage) instead of computing it. Free
// cached blocks are evicted least recently freed first, and only when no
// uncached free block is left. Blocks filled by generated tokens are cached
// too, so a later chat turn carrying the reply hits them.

// blockHashes is the chained hash of each full block of ids. A cache salt
// (vLLM's cache_salt request field) seeds the chain, so requests with
// different salts share no block.
func blockHashes(ids []int, blockSize int, salt string) []uint64 {
	n := len(ids) / blockSize
	if n == 0 {
		return nil
	}
	out := make([]uint64, n)
	parent := saltHash(salt)
	for i := range n {
		parent = hashBlock(parent, ids[i*blockSize:(i+1)*blockSize])
		out[i] = parent
	}
	return out
}

// saltHash is the hash a chain starts from: 0, or the salt's.
func saltHash(salt string) uint64 {
	if salt == "" {
		return 0
	}
	h := fnv.New64a()
	h.Write([]byte(salt))
	return h.Sum64()
}

// hashBlock is the hash of a block of ids after the block hashed parent.
func hashBlock(parent uint64, ids []int) uint64 {
	var b [8]byte
	h := fnv.New64a()
	binary.LittleEndian.PutUint64(b[:], parent)
	h.Write(b[:])
	for _, id := range ids {
		binary.LittleEndian.PutUint32(b[:4], uint32(id))
		h.Write(b[:4])
	}
	return h.Sum64()
}

// outputChain extends a request's block hashes with its generated tokens.
type outputChain struct {
	tail   []int           // ids of the tokens after the last full block
	parent uint64          // hash of the last full block (the salt's before any)
	id     func(i int) int // id of generated token i (1-based)
}

// newOutputChain continues the chain of a prompt of ids salted with salt.
func newOutputChain(ids []int, blockSize int, salt string, hashes []uint64, id func(int) int) *outputChain {
	c := &outputChain{parent: saltHash(salt), id: id}
	if len(hashes) > 0 {
		c.parent = hashes[len(hashes)-1]
	}
	c.tail = append(make([]int, 0, blockSize), ids[len(hashes)*blockSize:]...)
	return c
}

// sampled records s's newest generated token, hashing the block it fills.
func (c *outputChain) sampled(s *seq, blockSize int) {
	c.tail = append(c.tail, c.id(s.generated))
	if len(c.tail) == blockSize {
		c.parent = hashBlock(c.parent, c.tail)
		s.hashes = append(s.hashes, c.parent)
		c.tail = c.tail[:0]
	}
}

// cachedBlock is one logical block of prompt tokens in the prefix cache
// of one kind of KV-cache group: weight physical blocks.
type cachedBlock struct {
	hash uint64
	kind int // index into scheduler.kinds
	refs int // requests holding it; 0: free, evictable, in the LRU list

	prev, next *cachedBlock // LRU list links while refs == 0
}

// lruList holds the free cached blocks, least recently freed first.
type lruList struct {
	head, tail *cachedBlock
}

func (l *lruList) pushBack(b *cachedBlock) {
	b.prev, b.next = l.tail, nil
	if l.tail != nil {
		l.tail.next = b
	} else {
		l.head = b
	}
	l.tail = b
}

func (l *lruList) remove(b *cachedBlock) {
	if b.prev != nil {
		b.prev.next = b.next
	} else {
		l.head = b.next
	}
	if b.next != nil {
		b.next.prev = b.prev
	} else {
		l.tail = b.prev
	}
	b.prev, b.next = nil, nil
}

// kvKind is one kind of KV-cache group (full attention or sliding window):
// each logical block a request holds costs weight physical blocks, one per
// group of that kind.
type kvKind struct {
	weight  int
	sliding bool
	cache   map[uint64]*cachedBlock
}

// seqKV is what a request holds of one kind: logical blocks [lo, hi)
// (lo > 0 only for sliding windows), with ent[p] the cached block backing
// position p (nil: a private block). Positions below registered have been
// offered to the cache.
type seqKV struct {
	lo, hi     int
	ent        []*cachedBlock
	registered int
}

// lookup is the cached block of kind k with hash h, nil if none.
func (sc *scheduler) lookup(k int, h uint64) *cachedBlock {
	if !sc.cfg.prefixCaching {
		return nil
	}
	return sc.kinds[k].cache[h]
}

// longestHit is the number of leading blocks of s whose KV is in
// the cache, at most max: for full attention the longest run of cached
// blocks from the start; for a sliding window, scanning from the end, the
// first run of cdiv(window-1, block) cached blocks (the blocks before it
// are outside every later query's window), or a run from the start
// (vLLM's SlidingWindowManager.find_longest_cache_hit). A hybrid model
// takes full attention's hit, then the sliding window's within it.
func (sc *scheduler) longestHit(s *seq, max int) int {
	if !sc.cfg.prefixCaching {
		return 0
	}
	max = min(max, len(s.hashes))
	for k := range sc.kinds {
		if sc.kinds[k].sliding {
			continue
		}
		n := 0
		for n < max && sc.lookup(k, s.hashes[n]) != nil {
			n++
		}
		max = n
	}
	for k := range sc.kinds {
		if !sc.kinds[k].sliding {
			continue
		}
		need := cdiv(sc.cfg.window-1, sc.cfg.blockSize)
		run, hit := 0, -1
		for i := max - 1; i >= 0; i-- {
			if sc.lookup(k, s.hashes[i]) == nil {
				run = 0
				continue
			}
			run++
			if run >= need {
				hit = i + run
				break
			}
		}
		if hit < 0 {
			hit = run // the run reaching block 0, if any
		}
		max = hit
	}
	return max
}

// acquire makes b held by one more request.
func (sc *scheduler) acquire(b *cachedBlock) {
	if b.refs == 0 {
		sc.lru.remove(b)
		w := sc.kinds[b.kind].weight
		sc.evictable -= w
		sc.used += w
	}
	b.refs++
}

// drop releases one request's hold on b; unheld, it stays cached as a
// free block at the end of the LRU list.
func (sc *scheduler) drop(b *cachedBlock) {
	b.refs--
	if b.refs == 0 {
		w := sc.kinds[b.kind].weight
		sc.used -= w
		sc.evictable += w
		sc.lru.pushBack(b)
	}
}

// reserve makes room for n more physical blocks, evicting free cached
// blocks least recently freed first while uncached free blocks fall
// short. The caller has checked that n fit.
func (sc *scheduler) reserve(n int) {
	for sc.usable()-sc.used-sc.evictable < n && sc.lru.head != nil {
		b := sc.lru.head
		sc.lru.remove(b)
		kind := &sc.kinds[b.kind]
		delete(kind.cache, b.hash)
		sc.evictable -= kind.weight
	}
	sc.used += n
}

// resetPrefixCache empties the prefix cache, as vLLM's
// reset_prefix_cache: only when no request holds a block (false otherwise).
func (sc *scheduler) resetPrefixCache() bool {
	if sc.used > 0 {
		return false
	}
	for k := range sc.kinds {
		clear(sc.kinds[k].cache)
	}
	sc.lru = lruList{}
	sc.evictable = 0
	sc.hitWindow.reset()
	return true
}

// hitRateWindow is the prefix cache hit rate over the most recent
// requests, as vLLM's CachingMetrics (the "Prefix cache hit rate" of the
// periodic log line).
type hitRateWindow struct {
	queries, hits []int // ring of recent requests
	next          int
	sumQ, sumH    int
}

// hitRateRequests is CachingMetrics' max_recent_requests.
const hitRateRequests = 1000

func (w *hitRateWindow) observe(queries, hits int) {
	if len(w.queries) < hitRateRequests {
		w.queries = append(w.queries, queries)
		w.hits = append(w.hits, hits)
	} else {
		w.sumQ -= w.queries[w.next]
		w.sumH -= w.hits[w.next]
		w.queries[w.next], w.hits[w.next] = queries, hits
		w.next = (w.next + 1) % hitRateRequests
	}
	w.sumQ += queries
	w.sumH += hits
}

func (w *hitRateWindow) reset() { *w = hitRateWindow{} }

// rate is the hit fraction, 0 before any query.
func (w *hitRateWindow) rate() float64 {
	if w.sumQ == 0 {
		return 0
	}
	return float64(w.sumH) / float64(w.sumQ)
}
