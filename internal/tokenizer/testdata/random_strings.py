# random_strings.py writes N seeded random strings (concatenations of tricky
# pieces) as a JSON list, for a differential run against reference.js:
#
#	python3 random_strings.py 3000 > random.json
#	node reference.js $RUNEXP_TOKENIZER_DIR/gpt2.json random.json > /tmp/gpt2.random.json
#	RUNEXP_TOKENIZER_DIFF=/tmp go test -run DifferentialAgainstTheReference ./internal/tokenizer
import json, random, sys

pieces = [" ", "  ", "\t", "\n", "\r\n", "\r", "\v", "\f", "\u00a0", "\u3000", "\u0085", "\u2003", "a", "Hello",
          "world", "the", "The", "I", "'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", "'LL", "'", "\"", "0", "12",
          "123", "1234", "3.14", "\u0661\u0662\u0663", "\u00bd", "\u00e9", "e\u0301", "\u00d1and\u00fa", "\u65e5\u672c",
          "\u4e2d\u6587", "\ud55c\uad6d\uc5b4", "\U0001f600", "\U0001f469\u200d\U0001f469\u200d\U0001f467", "\U0001f916",
          "!", "?", "...", "---", "(", ")", "{", "}", "<s>", "</s>", "<unk>", "<|endoftext|>", "<|begin_of_text|>",
          "<|eot_id|>", "<0x41>", "\u2581", "_", "x", "\ufb01", "\u216b", "\u200b", "\ufeff", "\x00", "\x01", "\x7f",
          "\u00df", "\u0130", "\u03a3", "\u03c2", "\u0645\u0631\u062d\u0628\u0627", "\u05e9\u05dc\u05d5\u05dd", "\u2115",
          "\u2211", "\u2192", "\\", "/", "#", "@", "$", "%", "^", "&", "*", "+", "=", "|", "~", "`", ";", ":", ",", "."]
random.seed(42)
n = int(sys.argv[1]) if len(sys.argv) > 1 else 3000
json.dump(["".join(random.choice(pieces) for _ in range(random.randint(1, 25))) for _ in range(n)], sys.stdout)
