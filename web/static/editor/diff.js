/* Two versions of a diagram side by side: removed and changed elements marked on the old one,
   added and changed on the new one (the comparison itself is done on the server). */
(function () {
  "use strict";
  if (typeof window.BpmnJS !== "function") { return; }

  function ids(container, name) {
    try { return JSON.parse(container.getAttribute("data-" + name) || "[]"); } catch (e) { return []; }
  }

  function show(container) {
    var viewer = new window.BpmnJS({ container: container });
    fetch(container.getAttribute("data-src"), { credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.text();
      })
      .then(function (xml) { return viewer.importXML(xml); })
      .then(function () {
        var canvas = viewer.get("canvas"), registry = viewer.get("elementRegistry");
        ["added", "removed", "changed"].forEach(function (kind) {
          ids(container, kind).forEach(function (id) {
            if (registry.get(id)) { canvas.addMarker(id, "kaohe-diff-" + kind); }
          });
        });
        canvas.zoom("fit-viewport", "auto");
        container.classList.add("diagram-ready");
      })
      .catch(function (error) {
        var note = document.createElement("p");
        note.className = "error";
        note.textContent = container.getAttribute("data-error-text") || String(error);
        container.appendChild(note);
      });
  }

  Array.prototype.forEach.call(document.querySelectorAll(".diff-diagram"), show);
}());
