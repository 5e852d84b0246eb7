// A static file server for the end-to-end test, using only Node's standard
// library. It listens on 127.0.0.1 only, on a port the OS picks.

import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer } from 'node:http';
import { extname, join, normalize, resolve, sep } from 'node:path';

const CONTENT_TYPES = new Map([
  ['.html', 'text/html; charset=utf-8'],
  ['.js', 'text/javascript; charset=utf-8'],
  ['.mjs', 'text/javascript; charset=utf-8'],
  ['.css', 'text/css; charset=utf-8'],
  ['.json', 'application/json'],
  // WebAssembly.instantiateStreaming rejects any other content type.
  ['.wasm', 'application/wasm'],
  ['.bin', 'application/octet-stream'],
  ['.svg', 'image/svg+xml'],
  ['.png', 'image/png'],
  ['.ico', 'image/x-icon'],
  ['.txt', 'text/plain; charset=utf-8'],
]);

/**
 * Starts serving the files under `rootDir` and resolves to
 * `{ url, close, failedRequests }`, where `url` ends in "/" and
 * `failedRequests` lists each request answered with an error status, such as
 * "404 /missing.js".
 */
export async function startStaticServer(rootDir) {
  const root = resolve(rootDir);
  const failedRequests = [];

  const server = createServer(async (request, response) => {
    const sendError = (status, text) => {
      failedRequests.push(`${status} ${request.url}`);
      response.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' });
      response.end(text);
    };

    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.setHeader('allow', 'GET, HEAD');
      sendError(405, 'method not allowed');
      return;
    }

    let pathname;
    try {
      pathname = decodeURIComponent(new URL(request.url, 'http://127.0.0.1').pathname);
    } catch {
      sendError(400, 'invalid URL');
      return;
    }
    if (pathname.endsWith('/')) {
      pathname += 'index.html';
    }

    // Reject paths that leave the root, such as "/../secret".
    const filePath = normalize(join(root, pathname));
    if (filePath !== root && !filePath.startsWith(root + sep)) {
      sendError(403, 'path outside the served folder');
      return;
    }

    let info;
    try {
      info = await stat(filePath);
    } catch {
      sendError(404, 'not found');
      return;
    }
    if (!info.isFile()) {
      sendError(404, 'not a file');
      return;
    }

    response.writeHead(200, {
      'content-type': CONTENT_TYPES.get(extname(filePath).toLowerCase()) ?? 'application/octet-stream',
      'content-length': info.size,
      'cache-control': 'no-store',
    });
    if (request.method === 'HEAD') {
      response.end();
      return;
    }
    createReadStream(filePath).pipe(response);
  });

  await new Promise((resolveListen, rejectListen) => {
    server.once('error', rejectListen);
    server.listen(0, '127.0.0.1', resolveListen);
  });

  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}/`,
    failedRequests,
    close: () =>
      new Promise((resolveClose) => {
        server.closeAllConnections();
        server.close(() => resolveClose());
      }),
  };
}
