// AccountView page: follows the running import or export by polling the run's JSON (the same
// run the run page follows, GET /api/v1/administrations/{id}/runs/{run}) and reloads the page when
// it has ended, so the export mapping fills in. Without JavaScript the "Refresh page" link does it.
(function () {
  "use strict";
  var section = document.getElementById("av-progress");
  if (!section || !window.fetch) { return; }
  var lang = document.documentElement.lang === "en" ? "en-GB" : "nl-NL";
  var numbers = new Intl.NumberFormat(lang);
  var names = JSON.parse(section.dataset.names || "{}");
  var order = Object.keys(names);
  var stepsTemplate = section.dataset.steps || "";
  var lineTemplate = section.dataset.line || "";
  function fill(template, values) {
    return template.replace(/\{([a-z]+)\}/g, function (all, name) {
      return Object.prototype.hasOwnProperty.call(values, name) ? String(values[name]) : all;
    });
  }
  function count(value) { return numbers.format(Number(value) || 0); }
  function show(run) {
    var total = (run.progress && run.progress.total) || 0;
    var done = (run.progress && run.progress.done) || 0;
    var percent = total > 0 ? Math.min(100, Math.floor(done * 100 / total)) : 0;
    document.getElementById("av-progress-bar").value = percent;
    document.getElementById("av-progress-bar").textContent = percent + "%";
    document.getElementById("av-progress-steps").textContent = fill(stepsTemplate, { done: count(done), total: count(total) });
    var list = document.getElementById("av-progress-lines");
    var counts = run.counts || {};
    var lines = [];
    order.forEach(function (slug) {
      var c = counts[slug];
      if (!c || typeof c !== "object") { return; }
      lines.push(fill(lineTemplate, {
        name: names[slug], read: count(c.fetched), "new": count(c.created), updated: count(c.updated),
        unchanged: count(c.unchanged), skipped: count(c.skipped)
      }));
    });
    if (lines.length > 0 || list.children.length > 0) {
      while (list.firstChild) { list.removeChild(list.firstChild); }
      lines.forEach(function (text) {
        var item = document.createElement("li");
        item.textContent = text;
        list.appendChild(item);
      });
    }
    if (run.status === "running") {
      var status = document.getElementById("av-progress-status");
      status.className = "badge status-running";
      status.textContent = section.dataset.running || run.status;
    }
  }
  var finished = ["succeeded", "partially_succeeded", "failed", "cancelled"];
  function poll() {
    fetch(section.dataset.json, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (response) {
        if (response.status === 404) { return null; }
        // Without the right to read runs, the "Refresh page" link is the way.
        if (response.status === 401 || response.status === 403) { return "stop"; }
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.json();
      })
      .then(function (run) {
        if (run === "stop") { return; }
        if (run === null) { window.location.reload(); return; }
        show(run);
        section.dataset.status = run.status;
        if (finished.indexOf(run.status) >= 0) {
          // The finished page shows the filled-in export mapping and the run in the log panel.
          window.location.reload();
          return;
        }
        window.setTimeout(poll, 700);
      })
      .catch(function () { window.setTimeout(poll, 3000); });
  }
  poll();
})();
