package sim

import (
	"hash/fnv"
	"strconv"
	"unicode/utf8"
)

// CharsPerToken is the simulator's tokenizer: a prompt of c characters
// (Unicode code points) is ceil(c / CharsPerToken) tokens, at least 1.
const CharsPerToken = 4

// Chat template cost in tokens: each message adds chatMessageTokens for its
// role markers, and the assistant turn's header adds chatReplyTokens.
const (
	chatMessageTokens = 4
	chatReplyTokens   = 3
)

// EstimateTokens is the simulator's token count of a text prompt.
func EstimateTokens(s string) int {
	return max(1, (utf8.RuneCountInString(s)+CharsPerToken-1)/CharsPerToken)
}

// EstimateChatTokens is the token count of a chat prompt with the given
// message contents.
func EstimateChatTokens(contents []string) int {
	n := chatReplyTokens
	for _, c := range contents {
		n += chatMessageTokens
		if c != "" {
			n += EstimateTokens(c)
		}
	}
	return n
}

// fillerWords is the deterministic vocabulary of generated text; each
// generated token is one word with a leading space.
var fillerWords = []string{
	"the", "engine", "keeps", "a", "paged", "cache", "of", "keys", "and", "values",
	"for", "every", "running", "request", "so", "memory", "is", "reserved", "up",
	"front", "while", "batching", "lets", "many", "sequences", "share", "each",
	"step", "on", "simulated", "GPU", "blocks", "tokens", "decode", "prefill",
	"chunk", "budget", "scheduler", "waits", "when", "pool", "runs", "out",
	"then", "recomputes", "preempted", "work", "later", "throughput", "grows",
	"with", "concurrency", "until", "bandwidth", "or", "compute", "binds", "this",
	"text", "comes", "from", "runexp", "sim", "only",
}

// promptHash seeds a request's output: the same prompt (and seed) always
// gives the same text and natural length.
func promptHash(prompt string, seed int64) uint64 {
	h := fnv.New64a()
	h.Write([]byte(prompt))
	h.Write([]byte{0})
	h.Write([]byte(strconv.FormatInt(seed, 10)))
	return h.Sum64()
}

// fillerToken is the text of generated token i (1-based) of a request.
func fillerToken(h uint64, i int) string {
	return " " + fillerWords[(h+uint64(i)*7)%uint64(len(fillerWords))]
}

// Output length model: without ignore_eos a request "emits EOS" after its
// natural length, 16 + h mod 240 tokens (never before min_tokens).
const (
	naturalMin  = 16
	naturalSpan = 240
)

// outputLength returns how many tokens a request generates and why it
// stops ("length" when it reaches maxTokens, "stop" at its natural end).
func outputLength(h uint64, maxTokens, minTokens int, ignoreEOS bool) (int, string) {
	if ignoreEOS {
		return maxTokens, "length"
	}
	n := max(naturalMin+int(h%naturalSpan), minTokens)
	if n >= maxTokens {
		return maxTokens, "length"
	}
	return n, "stop"
}
