/* The DMN editor page: dmn-js opens the decision table; validate and deploy send the edited file to
   the same checks a deployment makes; problems are listed (a table's cells have no diagram shape). */
(function () {
  "use strict";
  var root = document.getElementById("dmn-editor");
  if (!root || typeof window.DmnJS !== "function") { return; }
  var K = window.KaoheEditor, t = K.texts(root), csrf = root.getAttribute("data-csrf");
  var filename = root.getAttribute("data-filename");
  var modeler = new window.DmnJS({ container: document.getElementById("dmn-modeler") });
  window.kaoheDmnModeler = modeler;

  function send(url, busyText) {
    K.showProblems([]);
    K.setStatus(busyText, "busy");
    return modeler.saveXML({ format: true }).then(function (result) {
      return K.postJSON(url, { files: [{ name: filename, content: result.xml }] }, csrf);
    });
  }

  function answered(answer, onOk) {
    if (!answer.data) { K.setStatus(K.failure(t, answer), "bad"); return; }
    if (!answer.data.ok) { K.setStatus(t.invalid, "bad"); K.showProblems(answer.data.problems); return; }
    onOk(answer.data);
  }

  function wire() {
    var check = document.getElementById("btn-check"), deploy = document.getElementById("btn-deploy");
    if (check) {
      check.addEventListener("click", function () {
        send(root.getAttribute("data-check"), t.checking).then(function (answer) {
          answered(answer, function () { K.setStatus(t.valid, "ok"); });
        });
      });
    }
    if (deploy) {
      deploy.addEventListener("click", function () {
        send(root.getAttribute("data-deploy"), t.deploying).then(function (answer) {
          answered(answer, function (data) { K.setStatus(K.deployedText(t, data.results), "ok"); });
        });
      });
    }
    document.getElementById("btn-download").addEventListener("click", function () {
      modeler.saveXML({ format: true }).then(function (result) { K.download(filename, result.xml, "application/xml"); });
    });
  }

  fetch(root.getAttribute("data-source"), { credentials: "same-origin" })
    .then(function (response) {
      if (!response.ok) { throw new Error("HTTP " + response.status); }
      return response.text();
    })
    .then(function (xml) { return modeler.importXML(xml); })
    .then(function () {
      // Open the decision table itself rather than the requirements diagram around it.
      var table = modeler.getViews().filter(function (view) { return view.type === "decisionTable"; })[0];
      return table ? modeler.open(table) : null;
    })
    .then(function () { wire(); root.classList.add("editor-ready"); })
    .catch(function (error) { K.setStatus(t.loadFailed + " " + error, "bad"); });
}());
