// Copies each example file into the README code block that names it (<!-- example: path -->).
import * as fs from "node:fs"
const readme = fs.readFileSync("README.md", "utf8")
const out = readme.replace(/<!-- example: ([^ ]+) -->\n```ts\n[\s\S]*?\n```/g, (_, file) =>
  `<!-- example: ${file} -->\n\`\`\`ts\n${fs.readFileSync(file, "utf8").trimEnd()}\n\`\`\``)
fs.writeFileSync("README.md", out)
