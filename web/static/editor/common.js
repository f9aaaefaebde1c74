/* Shared by the BPMN and DMN editors: JSON requests with the CSRF token, the status line,
   the problem list and downloads of what is on screen. */
(function () {
  "use strict";

  function texts(root) {
    try { return JSON.parse(root.getAttribute("data-texts") || "{}"); } catch (e) { return {}; }
  }

  function format(text, values) {
    return String(text || "").replace(/%\((\w+)\)s/g, function (_m, key) {
      return values && values[key] !== undefined ? values[key] : "";
    });
  }

  /* Resolves to {status, data}; data is null when the answer was not JSON (a 403 page, say). */
  function postJSON(url, body, csrf) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json", "X-CSRFToken": csrf },
      body: JSON.stringify(body)
    }).then(function (response) {
      var type = response.headers.get("Content-Type") || "";
      if (type.indexOf("application/json") === -1) { return { status: response.status, data: null }; }
      return response.json().then(function (data) { return { status: response.status, data: data }; });
    });
  }

  function setStatus(text, kind) {
    var node = document.getElementById("editor-status");
    if (!node) { return; }
    node.textContent = text || "";
    node.className = "editor-status" + (kind ? " status-" + kind : "");
  }

  function where(problem) {
    return problem.file + (problem.line ? ":" + problem.line : "") + (problem.element ? " #" + problem.element : "");
  }

  /* onPick(problem) is called when a listed problem is clicked (to show its element). */
  function showProblems(problems, onPick) {
    var box = document.getElementById("problems");
    var list = document.getElementById("problem-list");
    if (!box || !list) { return; }
    list.textContent = "";
    (problems || []).forEach(function (problem) {
      var item = document.createElement("li");
      item.setAttribute("data-element", problem.element || "");
      var code = document.createElement("code");
      code.textContent = where(problem);
      item.appendChild(code);
      item.appendChild(document.createTextNode(" " + problem.message));
      if (problem.element && onPick) {
        item.classList.add("pickable");
        item.addEventListener("click", function () { onPick(problem); });
      }
      list.appendChild(item);
    });
    box.hidden = !problems || problems.length === 0;
  }

  function download(filename, text, mime) {
    var blob = new Blob([text], { type: mime || "application/xml" });
    var link = document.createElement("a");
    link.href = URL.createObjectURL(blob);
    link.download = filename;
    document.body.appendChild(link);
    link.click();
    setTimeout(function () { URL.revokeObjectURL(link.href); link.remove(); }, 1000);
  }

  /* The answer of /definitions/deploy as one line: "已部署：x 版本 2". */
  function deployedText(t, results) {
    return results.map(function (r) {
      return format(r.created ? t.deployed : t.unchanged, { id: r.id, version: r.version });
    }).join("；");
  }

  function failure(t, answer) {
    return t.failed + " HTTP " + answer.status;
  }

  window.KaoheEditor = {
    texts: texts, format: format, postJSON: postJSON, setStatus: setStatus, showProblems: showProblems,
    download: download, deployedText: deployedText, failure: failure
  };
}());
