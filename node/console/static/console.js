// Live progress: an element with data-poll="URL" is refreshed from that JSON URL every two seconds
// until the run is finished. No framework, no inline script (the CSP forbids it).
(function () {
  "use strict";
  function render(el, data) {
    var bar = el.querySelector("progress");
    if (bar) { bar.max = data.total || 1; bar.value = data.done || 0; }
    var state = el.querySelector("[data-field=state]");
    if (state) { state.textContent = data.state; state.className = "badge s-" + data.state; }
    var count = el.querySelector("[data-field=count]");
    if (count) { count.textContent = (data.done || 0) + " / " + (data.total || 0); }
    var list = el.querySelector("[data-field=cases]");
    if (list && data.cases) {
      list.textContent = "";
      data.cases.forEach(function (c) {
        var tr = document.createElement("tr");
        [c.id, c.purpose || "", c.result || "", c.detail || ""].forEach(function (v, i) {
          var td = document.createElement("td");
          if (i === 2) { var b = document.createElement("span"); b.className = "badge s-" + v; b.textContent = v; td.appendChild(b); }
          else { td.textContent = v; }
          tr.appendChild(td);
        });
        list.appendChild(tr);
      });
    }
  }
  function poll(el) {
    fetch(el.getAttribute("data-poll"), { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) {
        if (!data) { return; }
        render(el, data);
        if (data.finished) { el.setAttribute("data-finished", "true"); if (el.hasAttribute("data-reload")) { location.reload(); } return; }
        setTimeout(function () { poll(el); }, 2000);
      })
      .catch(function () { setTimeout(function () { poll(el); }, 5000); });
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-poll]").forEach(poll);
    document.querySelectorAll("form[data-confirm]").forEach(function (f) {
      f.addEventListener("submit", function (e) { if (!window.confirm(f.getAttribute("data-confirm"))) { e.preventDefault(); } });
    });
  });
})();
