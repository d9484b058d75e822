// import() for credrelay's single executable (src/bin/single-executable.ts), whose main script may not call it
// itself: a module loaded from disk can, so the daemon's ES module entry is imported through this one.
module.exports = (url) => import(url);
