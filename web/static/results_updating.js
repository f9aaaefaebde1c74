/* While a background job recomputes a period's results (web/templates/results/_updating.html and
   pending.html): ask the server how far it is every second, show the percentage, and load the page
   again once the job is done, which then shows the fresh results. A failed job shows its error and
   stops asking (loading again would only start the same failing work). */
(function () {
  "use strict";
  var box = document.getElementById("results-updating") || document.getElementById("results-pending");
  if (!box) { return; }
  var text = document.getElementById("results-updating-text");
  var stage = document.getElementById("results-updating-stage");
  var bar = document.getElementById("results-updating-bar");

  function show(job) {
    text.textContent = job.message;
    stage.textContent = job.stage || "";
    if (bar) { bar.value = job.percent; }
  }

  function poll() {
    fetch(box.getAttribute("data-status-url"), {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (job) {
        if (job && job.status === "failed") {
          show(job);
          box.classList.add("banner");  /* the error look of kaohe.css */
          return;
        }
        if (job && job.finished) {
          window.location.reload();
          return;
        }
        if (job) { show(job); }
        window.setTimeout(poll, 1000);
      })
      .catch(function () { window.setTimeout(poll, 3000); });
  }
  window.setTimeout(poll, 1000);
}());
