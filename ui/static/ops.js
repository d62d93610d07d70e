// ops.js
"use strict";
