// Copy buttons: a button with data-copy="<id>" copies that field's value (or that element's text)
// and says so in the page's live region (#copy-status). The buttons are hidden until this script
// shows them, so without JavaScript the fields are simply there to select and copy by hand.
(function () {
  "use strict";
  var status = document.getElementById("copy-status");

  function say(text) {
    if (!status) {
      return;
    }
    // Emptied first, so the same words twice in a row are announced twice.
    status.textContent = "";
    window.setTimeout(function () {
      status.textContent = text;
    }, 50);
  }

  function textOf(target) {
    return "value" in target && typeof target.value === "string" ? target.value : target.textContent;
  }

  // The older way, for browsers without the Clipboard API (or a page not served over HTTPS).
  function copyBySelection(target, text) {
    var scratch = document.createElement("textarea");
    scratch.value = text;
    scratch.setAttribute("readonly", "");
    scratch.className = "copy-scratch";
    document.body.appendChild(scratch);
    scratch.select();
    var done = false;
    try {
      done = document.execCommand("copy");
    } catch (error) {
      done = false;
    }
    document.body.removeChild(scratch);
    if (!done && typeof target.select === "function") {
      target.select();
    }
    return done;
  }

  document.querySelectorAll("button[data-copy]").forEach(function (button) {
    var target = document.getElementById(button.dataset.copy);
    if (!target) {
      return;
    }
    button.hidden = false;
    button.addEventListener("click", function () {
      var text = textOf(target);
      var copied = function () {
        say(button.dataset.copied);
      };
      var failed = function () {
        if (copyBySelection(target, text)) {
          copied();
        } else {
          say(button.dataset.failed);
        }
      };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(text).then(copied, failed);
      } else {
        failed();
      }
    });
  });
})();
