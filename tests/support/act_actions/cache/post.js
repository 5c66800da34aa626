// actions/cache stand-in, post step (only after a successful job: post-if): save.
const { spawnSync } = require("child_process");
const r = spawnSync("python3", [__dirname + "/cache.py", "post"], { stdio: "inherit" });
process.exitCode = r.status === null ? 1 : r.status;
