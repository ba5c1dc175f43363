// @imgly/background-removal-node as an HTTP service: POST an image, get the cutout PNG back.
// The way a Node team would expose it: one process, requests handled as they come (the
// library runs ONNX Runtime on its own threads). Usage: node server.mjs PORT [small|medium]
import http from "node:http";
import { removeBackground } from "@imgly/background-removal-node";

const port = Number(process.argv[2] || 8300);
const model = process.argv[3] || "medium";

http
  .createServer(async (req, res) => {
    if (req.method === "GET") {
      res.writeHead(200).end("ok");
      return;
    }
    const chunks = [];
    for await (const c of req) chunks.push(c);
    try {
      const type = req.headers["content-type"] || "image/jpeg";
      const blob = new Blob([Buffer.concat(chunks)], { type });
      const out = await removeBackground(blob, { model, output: { format: "image/png" } });
      res.writeHead(200, { "Content-Type": "image/png" }).end(Buffer.from(await out.arrayBuffer()));
    } catch (e) {
      res.writeHead(500, { "Content-Type": "text/plain" }).end(String(e));
    }
  })
  .listen(port, "127.0.0.1", () => console.log(`imgly peer on ${port} (${model})`));
