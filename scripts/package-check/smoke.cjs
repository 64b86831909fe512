// A CommonJS program (as Jest or an older tool loads code): require() of the ESM packages,
// which Node 20.19 and later allow for modules without top-level await.
const adapter = require("@wsstream/node");
const { WebSocketError } = require("@wsstream/core");
const { deadline, exchange } = require("./exchange.mjs");

if (typeof WebSocketError !== "function") throw new Error("require('@wsstream/core') has no WebSocketError");
const done = deadline(20_000);
exchange(adapter).then(
  (summary) => {
    console.log(`smoke node require: ${summary}`);
    done();
  },
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
