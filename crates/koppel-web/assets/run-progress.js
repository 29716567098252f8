// Follows a run live: the REST API streams its state as Server-Sent Events ("progress", then "end").
(function () {
  "use strict";
  var section = document.getElementById("run");
  if (!section || section.dataset.finished === "true" || !window.EventSource) { return; }
  var statuses = JSON.parse(section.dataset.statuses || "{}");
  var lang = document.documentElement.lang === "en" ? "en" : "nl";
  // Numbers as the page writes them: 6.999 in Dutch, 6,999 in English.
  function number(value) {
    var digits = String(Math.abs(value)).replace(/\B(?=(\d{3})+(?!\d))/g, lang === "en" ? "," : ".");
    return (value < 0 ? "-" : "") + digits;
  }
  var source = new EventSource(section.dataset.events);
  function show(run) {
    var status = document.getElementById("run-status");
    status.textContent = statuses[run.status] || run.status;
    status.className = "badge status-" + run.status;
    var total = run.progress.total || 0;
    var done = run.progress.done || 0;
    var percent = run.status === "succeeded" ? 100 : (total > 0 ? Math.min(100, Math.floor(done * 100 / total)) : 0);
    document.getElementById("run-progress").value = percent;
    document.getElementById("run-progress-text").textContent = total > 0 ? number(done) + " / " + number(total) : number(done);
    if (run.message) { document.getElementById("run-message").textContent = run.message[lang] || ""; }
    // Runs that work through several administrations report each one's state.
    (run.counts && run.counts.targets || []).forEach(function (target) {
      var row = document.querySelector("tr[data-target='" + target.id + "']");
      if (!row) { return; }
      var bar = row.querySelector("progress");
      if (target.status === "running") { bar.removeAttribute("value"); }
      else { bar.value = (target.status === "succeeded" || target.status === "failed") ? 1 : 0; }
      var badge = row.querySelector(".badge");
      badge.textContent = statuses[target.status] || target.status;
      badge.className = "badge status-" + target.status;
    });
  }
  source.addEventListener("progress", function (event) { show(JSON.parse(event.data)); });
  source.addEventListener("end", function (event) {
    show(JSON.parse(event.data));
    source.close();
    // The final page lists the results of every item.
    window.location.reload();
  });
  source.addEventListener("gone", function () { source.close(); });
})();
