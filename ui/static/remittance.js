// remittance.js
"use strict";
page("remittances", {});
