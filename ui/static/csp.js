// csp.js: loaded first, without defer, so that it hears every violation of
// the Content-Security-Policy, also those while the page is parsed.
// cspViolations lists what the policy blocked (the browser tests check it
// stays empty).
"use strict";

const cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  cspViolations.push(e.violatedDirective + " " + e.blockedURI);
  console.warn("blocked by the Content-Security-Policy:", e.violatedDirective, e.blockedURI);
});
