// people.js
"use strict";
