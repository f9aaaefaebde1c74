// Starts Swagger UI from a file rather than an inline script, so the page keeps the strict CSP.
(function () {
  var root = document.getElementById("swagger-ui");
  window.SwaggerUIBundle({
    url: root.dataset.specUrl,
    domNode: root,
    deepLinking: true,
    // "Try it out" from a signed-in browser: send the session cookie and the CSRF token.
    requestInterceptor: function (request) {
      request.credentials = "same-origin";
      return request;
    }
  });
})();
