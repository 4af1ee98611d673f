// A drawn signature: pointer events on a <canvas> (a finger on a phone or tablet, a stylus,
// the mouse), sent as a PNG data: URL in the form's hidden field. The canvas keeps a
// transparent background so the server can tell a blank box from a signature. Keyboard and
// screen-reader users type their name in the form instead (the hint next to the box says so).
(function () {
  "use strict";

  function setup(box) {
    var canvas = box.querySelector("canvas");
    var target = document.getElementById(box.getAttribute("data-target"));
    var clear = box.querySelector("[data-pad-clear]");
    var status = box.querySelector("[data-pad-status]");
    if (!canvas || !target || !canvas.getContext) return;
    var ctx = canvas.getContext("2d");
    var drawing = false;
    var last = null;
    var inked = false;

    // the bitmap follows the box's shown size (at most 2 device pixels per CSS pixel, so a
    // drawing stays well under the server's size limit)
    function fit() {
      var ratio = Math.min(window.devicePixelRatio || 1, 2);
      var w = Math.round(canvas.clientWidth * ratio);
      var h = Math.round(canvas.clientHeight * ratio);
      if (w && h && (canvas.width !== w || canvas.height !== h)) {
        canvas.width = w;
        canvas.height = h;
        reset();
      }
      ctx.lineWidth = 2.5 * ratio;
      ctx.lineCap = "round";
      ctx.lineJoin = "round";
      ctx.strokeStyle = "#111";
    }

    function reset() {
      ctx.clearRect(0, 0, canvas.width, canvas.height);
      target.value = "";
      inked = false;
      canvas.classList.remove("has-ink");
      if (status) status.textContent = "";
    }

    function point(e) {
      var r = canvas.getBoundingClientRect();
      return { x: (e.clientX - r.left) * canvas.width / r.width,
               y: (e.clientY - r.top) * canvas.height / r.height };
    }

    canvas.addEventListener("pointerdown", function (e) {
      if (e.button !== undefined && e.button > 0) return;
      e.preventDefault();
      canvas.setPointerCapture(e.pointerId);
      drawing = true;
      last = point(e);
      ctx.beginPath();
      ctx.arc(last.x, last.y, ctx.lineWidth / 2, 0, Math.PI * 2);
      ctx.fillStyle = ctx.strokeStyle;
      ctx.fill();
    });
    canvas.addEventListener("pointermove", function (e) {
      if (!drawing) return;
      e.preventDefault();
      var p = point(e);
      ctx.beginPath();
      ctx.moveTo(last.x, last.y);
      ctx.lineTo(p.x, p.y);
      ctx.stroke();
      last = p;
      inked = true;
    });
    function end(e) {
      if (!drawing) return;
      drawing = false;
      if (canvas.hasPointerCapture && canvas.hasPointerCapture(e.pointerId)) {
        canvas.releasePointerCapture(e.pointerId);
      }
      if (inked) {
        target.value = canvas.toDataURL("image/png");
        canvas.classList.add("has-ink");
        if (status) status.textContent = box.getAttribute("data-drawn-text") || "";
      }
    }
    canvas.addEventListener("pointerup", end);
    canvas.addEventListener("pointercancel", end);

    if (clear) clear.addEventListener("click", reset);
    window.addEventListener("resize", function () {
      if (!inked) fit(); // a resize would stretch a drawing: keep it, it is already sent
    });
    fit();
  }

  function init() {
    var boxes = document.querySelectorAll("[data-signature-pad]");
    for (var i = 0; i < boxes.length; i++) setup(boxes[i]);
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
