// The app shell's small behaviours; every page works without them.
// - marks the document as scripted (the stylesheet then hides the buttons the script replaces);
// - menus (<details class="menu">) close on Escape (focus back on their button), on a click
//   outside and when another menu opens;
// - on narrow screens the side menu opens from the top bar's menu button.
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  function openMenus() {
    return document.querySelectorAll("details.menu[open]");
  }

  function ready() {
    document.querySelectorAll("details.menu").forEach(function (menu) {
      menu.addEventListener("toggle", function () {
        if (!menu.open) return;
        openMenus().forEach(function (other) {
          if (other !== menu) other.open = false;
        });
      });
    });
    document.addEventListener("keydown", function (event) {
      if (event.key !== "Escape") return;
      openMenus().forEach(function (menu) {
        menu.open = false;
        var summary = menu.querySelector("summary");
        if (summary && menu.contains(document.activeElement)) summary.focus();
      });
    });
    document.addEventListener("click", function (event) {
      openMenus().forEach(function (menu) {
        if (!menu.contains(event.target)) menu.open = false;
      });
    });

    var toggle = document.getElementById("nav-toggle");
    var nav = document.getElementById("side-nav");
    if (toggle && nav) {
      toggle.hidden = false;
      toggle.addEventListener("click", function () {
        var open = nav.classList.toggle("open");
        toggle.setAttribute("aria-expanded", open ? "true" : "false");
      });
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", ready);
  } else {
    ready();
  }
})();
