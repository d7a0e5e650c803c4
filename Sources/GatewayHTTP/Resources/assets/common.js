/* Shared by the gateway's pages: translation, problem+json reading, times, and a parser for event
   streams read with fetch(). Loaded before each page's own script; no dependencies, no build step. */
(function () {
  "use strict";

  function translate(I18N, lang, key, vars) {
    var table = I18N[lang] || I18N["pt-PT"];
    var text = Object.prototype.hasOwnProperty.call(table, key) ? table[key] : I18N["pt-PT"][key];
    if (text === undefined) {
      return key;
    }
    return text.replace(/\{(\w+)\}/g, function (whole, name) {
      return vars && vars[name] !== undefined && vars[name] !== null ? String(vars[name]) : whole;
    });
  }

  function applyStaticTexts(I18N, lang) {
    var nodes = document.querySelectorAll("[data-i18n]");
    for (var i = 0; i < nodes.length; i++) {
      var key = nodes[i].getAttribute("data-i18n");
      if (I18N[lang] && Object.prototype.hasOwnProperty.call(I18N[lang], key)) {
        nodes[i].textContent = I18N[lang][key];
      }
    }
  }

  function readProblem(response) {
    return response.json().then(
      function (body) {
        return body && typeof body === "object" ? body : {};
      },
      function () {
        return {};
      }
    );
  }

  function parseTime(value) {
    if (!value) {
      return null;
    }
    var ms = Date.parse(value);
    return isNaN(ms) ? null : ms;
  }

  function makeSSEParser(onEvent) {
    var buffer = "";
    var type = "";
    var data = [];
    var id = null;
    function dispatch() {
      if (data.length > 0) {
        onEvent({ type: type || "message", data: data.join("\n"), id: id });
      }
      type = "";
      data = [];
    }
    function line(text) {
      if (text === "") {
        dispatch();
        return;
      }
      if (text.charAt(0) === ":") {
        return; // a comment, e.g. the heartbeat
      }
      var colon = text.indexOf(":");
      var field = colon === -1 ? text : text.slice(0, colon);
      var value = colon === -1 ? "" : text.slice(colon + 1);
      if (value.charAt(0) === " ") {
        value = value.slice(1);
      }
      if (field === "event") {
        type = value;
      } else if (field === "data") {
        data.push(value);
      } else if (field === "id" && value.indexOf("\u0000") === -1) {
        id = value;
      }
    }
    return {
      push: function (text) {
        buffer += text;
        var match;
        var pattern = /\r\n|\r|\n/g;
        var start = 0;
        while ((match = pattern.exec(buffer)) !== null) {
          if (match[0] === "\r" && match.index === buffer.length - 1) {
            break; // may be the first half of \r\n
          }
          line(buffer.slice(start, match.index));
          start = match.index + match[0].length;
        }
        buffer = buffer.slice(start);
      },
      end: function () {
        buffer = "";
        type = "";
        data = [];
      }
    };
  }

  /* sessionStorage may be off (private mode): then nothing is kept and null is read. */
  function readStored(key) {
    try {
      return window.sessionStorage.getItem(key);
    } catch (error) {
      return null;
    }
  }

  function store(key, value) {
    try {
      if (value) {
        window.sessionStorage.setItem(key, value);
      } else {
        window.sessionStorage.removeItem(key);
      }
    } catch (error) {
      /* storage off: the value lives in memory for this page */
    }
  }

  window.GatewayPage = Object.freeze({
    readStored: readStored,
    store: store,
    translate: translate,
    applyStaticTexts: applyStaticTexts,
    readProblem: readProblem,
    parseTime: parseTime,
    makeSSEParser: makeSSEParser
  });
})();
