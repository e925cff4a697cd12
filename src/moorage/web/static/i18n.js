// The pages' scripts speak the page's language: base.html renders the translations
// they need as a JSON block, <script type="application/json" id="i18n-messages">
// ({"English text": "translation"}; empty in English), since the CSP runs no inline
// script. t("Extended by {minutes} min.", {minutes: 30}) looks the English text up
// and fills the {name} placeholders. Loaded before every other script of a page.
"use strict";

window.moorageT = (() => {
  let messages = null;
  return (text, params = {}) => {
    if (messages === null) {
      try {
        const block = document.getElementById("i18n-messages");
        messages = block ? JSON.parse(block.textContent) : {};
      } catch (_) { messages = {}; }
    }
    return (messages[text] || text).replace(/\{(\w+)\}/g, (whole, key) => (key in params ? String(params[key]) : whole));
  };
})();
