// todo.js
"use strict";
page("todo", {});
