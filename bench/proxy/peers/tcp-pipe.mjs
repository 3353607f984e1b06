// Peer: a raw L4 proxy in Node — one upstream socket per downstream socket, bytes piped
// both ways, no parsing. The floor for any Node TCP proxying (Isthmus TCP routes, when they
// exist, must do at least this much work).
//
//   node tcp-pipe.mjs <port> <upstreamHost> <upstreamPort>
import net from 'node:net';

const [port, upHost, upPort] = process.argv.slice(2);
net
  .createServer({ noDelay: true }, (down) => {
    const up = net.connect({ host: upHost, port: Number(upPort), noDelay: true });
    down.pipe(up).pipe(down);
    const close = () => {
      down.destroy();
      up.destroy();
    };
    for (const s of [down, up]) {
      s.on('error', close);
      s.on('close', close);
    }
  })
  .listen(Number(port), '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
