// actions/cache stand-in, main step: restore (tests/support/act_actions/cache/cache.py).
const { spawnSync } = require("child_process");
const r = spawnSync("python3", [__dirname + "/cache.py", "restore"], { stdio: "inherit" });
process.exitCode = r.status === null ? 1 : r.status;
