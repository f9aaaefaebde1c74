/* A background job's page (web/templates/jobs/job.html): ask the server how far the job is every
   second and move the bar; once the job has finished, load the page again to show the download or
   the import's outcome. Without script, a meta refresh does the same more coarsely. */
(function () {
  "use strict";
  var box = document.getElementById("job");
  if (!box || box.getAttribute("data-finished") === "true") { return; }
  var bar = document.getElementById("job-bar");
  var percent = document.getElementById("job-percent");
  var stage = document.getElementById("job-stage");

  function show(job) {
    if (job.percent === null) {
      bar.removeAttribute("value");  /* a stage with nothing to count: a moving bar */
      percent.textContent = "";
    } else {
      bar.value = job.percent;
      percent.textContent = job.percent + "%";
    }
    stage.textContent = job.stage || job.status_text;
  }

  function poll() {
    fetch(box.getAttribute("data-status-url"), {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (job) {
        if (job && job.finished) {
          window.location.reload();
          return;
        }
        if (job) { show(job); }
        window.setTimeout(poll, 1000);
      })
      .catch(function () { window.setTimeout(poll, 3000); });
  }
  window.setTimeout(poll, 500);
}());
