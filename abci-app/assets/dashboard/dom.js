// What the dashboard's scripts share: el(tag, attrs, children) builds an
// element ("text" sets its text, "class" its class, anything else an
// attribute) with its children. Loaded first (index.html).
"use strict";

(function () {
  function el(tag, attrs, children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "text") {
        node.textContent = v;
      } else if (k === "class") {
        node.className = v;
      } else {
        node.setAttribute(k, v);
      }
    }
    for (const child of children || []) {
      node.append(child);
    }
    return node;
  }

  window.umDom = Object.freeze({ el });
})();
