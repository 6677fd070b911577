/* ConvBook's glue for the vendored widget manager (written for this book; not from npm).
 * Loaded just before embed-amd.js (see nb_ipywidgets_js in _config.yml). */

/* 1. The bundle's icon fonts sit beside it. It finds them from the URL require.js gives its
 *    own module name (by default next to the page), and from this variable. */
(function () {
  var here = document.currentScript.src.replace(/[^/]*$/, "");
  window.__jupyter_widgets_assets_path__ = here;
  if (window.require && window.require.config) {
    /* the controls' own webpack runtime takes its public path from its AMD module's URL
     * ("@jupyter-widgets/<name>"): map that prefix here too, so icon fonts load from here */
    window.require.config({paths: {"@jupyter-widgets/html-manager/dist": here.slice(0, -1),
                                   "@jupyter-widgets": here.slice(0, -1)}});
  }
})();

/* 2. html-manager 1.0.x typesets widget labels with MathJax 2's MathJax.Hub.Queue, but the
 *    book loads MathJax 3 (deferred, so it exists by DOMContentLoaded; widgets render on load). */
document.addEventListener("DOMContentLoaded", function () {
  var mj = window.MathJax;
  if (mj && !mj.Hub) {
    mj.Hub = {
      Queue: function (job) {
        var element = job && job[2];
        if (element && mj.typesetPromise) {
          mj.typesetPromise([element]).catch(function () {});
        }
      }
    };
  }
});
