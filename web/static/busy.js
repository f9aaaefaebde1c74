/* Long work done inside the request (imports, exports of the whole organisation or all problems):
   while the server works, show an indeterminate progress bar with what is happening, and keep the
   button from being pressed twice. A download gives no page to replace this one, so the server
   answers a download that carries download_token=T with the cookie kaohe_download=T, and the bar
   goes away when that cookie appears. */
(function () {
  "use strict";

  function newToken() {
    return Math.random().toString(36).slice(2, 12) || "t";
  }

  function indicator(text) {
    var box = document.createElement("div");
    box.className = "busy";
    box.setAttribute("role", "status");
    var bar = document.createElement("progress");
    var label = document.createElement("span");
    label.textContent = text;
    box.appendChild(bar);
    box.appendChild(label);
    return box;
  }

  function whenDownloaded(token, done) {
    var timer = window.setInterval(function () {
      if (document.cookie.split("; ").indexOf("kaohe_download=" + token) !== -1) {
        window.clearInterval(timer);
        document.cookie = "kaohe_download=; Max-Age=0; path=/";
        done();
      }
    }, 300);
  }

  function start(anchor, text) {
    var box = indicator(text);
    anchor.insertAdjacentElement("afterend", box);
    return box;
  }

  document.querySelectorAll("form[data-busy]").forEach(function (form) {
    form.addEventListener("submit", function () {
      var buttons = form.querySelectorAll("button, input[type=submit]");
      buttons.forEach(function (button) { button.disabled = true; });
      var box = start(form, form.getAttribute("data-busy"));
      if (form.hasAttribute("data-download")) {
        var token = newToken();
        var field = form.querySelector("input[name=download_token]") || document.createElement("input");
        field.type = "hidden";
        field.name = "download_token";
        field.value = token;
        form.appendChild(field);
        whenDownloaded(token, function () {
          box.remove();
          buttons.forEach(function (button) { button.disabled = false; });
        });
      }
    });
  });

  document.querySelectorAll("a[data-busy]").forEach(function (link) {
    link.addEventListener("click", function () {
      if (link.getAttribute("aria-busy") === "true") { return; }
      var token = newToken();
      var url = new URL(link.href, window.location.href);
      url.searchParams.set("download_token", token);
      link.href = url.toString();
      link.setAttribute("aria-busy", "true");
      var box = start(link, link.getAttribute("data-busy"));
      whenDownloaded(token, function () {
        box.remove();
        link.removeAttribute("aria-busy");
      });
    });
  });
}());
