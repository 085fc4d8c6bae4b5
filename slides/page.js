// The deck's behaviour: keys, steps, #N addresses, the notes panel and the presenter view.
// Built into index.html by build.py. No server, no network: works from file://.
(function () {
  var W = 1600, H = 900;
  var stage = document.getElementById('stage');
  var panel = document.getElementById('notes-panel');
  var presenter = /(^\?|&)presenter\b/.test(location.search);
  // index.html?handout: the handout for students, printed from the same file. The answers (the
  // exercise's, marked data-answer), the slides of worked solutions (class "answers") and the
  // speaker notes are taken out before anything else runs; the slides left are numbered again.
  if (/(^\?|&)handout\b/.test(location.search)) {
    document.body.classList.add('handout');
    stage.querySelectorAll('section.slide.answers, aside.notes').forEach(function (e) {
      e.remove();
    });
    stage.querySelectorAll('[data-answer]').forEach(function (e) {
      var wrap = e.parentElement;          // a step that showed only this answer goes with it
      e.remove();
      var empty = !wrap.children.length && !wrap.textContent.trim();
      if (wrap.hasAttribute('data-step') && empty) wrap.remove();
    });
    var kept = stage.querySelectorAll('section.slide');
    kept.forEach(function (sl, i) {
      var num = sl.querySelector('footer span:last-child');
      if (num) num.textContent = (i + 1) + ' / ' + kept.length;
    });
  }
  var slides = Array.prototype.slice.call(stage.querySelectorAll('section.slide'));
  var cur = 0, step = 0;
  var pv = null;            // the presenter view's parts (presenter window only)
  var popup = null;         // the presenter window (audience window only)
  var quiet = false;        // true while we follow the other window (do not echo back)
  var channel = null;
  try {   // one channel per page: another deck, or an explore.py page, open beside it stays where it is
    channel = new BroadcastChannel('mytorch-deck ' + location.pathname);
  } catch (err) { channel = null; }

  function maxStep(i) {
    var m = 0;
    slides[i].querySelectorAll('[data-step]').forEach(function (e) {
      m = Math.max(m, +e.getAttribute('data-step'));
    });
    return m;
  }
  function showSteps(list, i, s) {
    list.forEach(function (sl, j) { sl.classList.toggle('current', j === i); });
    list[i].querySelectorAll('[data-step]').forEach(function (e) {
      e.classList.toggle('future', +e.getAttribute('data-step') > s);
      var u = e.getAttribute('data-until');
      e.classList.toggle('past', u !== null && s >= +u);
    });
  }
  function notesOf(i) {
    var n = slides[i].querySelector('.notes');
    return n ? n.innerHTML : '';
  }
  function place(box, st) {        // scale a 1600x900 stage into a box of the presenter view
    var r = box.getBoundingClientRect();
    var s = Math.min(r.width / W, r.height / H);
    st.style.transform = 'scale(' + s + ')';
  }
  function fit() {
    if (pv) { place(pv.cur, stage); place(pv.next, pv.nextStage); return; }
    var h = window.innerHeight - (document.body.classList.contains('show-notes') ? panel.offsetHeight : 0);
    var s = Math.min(window.innerWidth / W, h / H);
    stage.style.top = (h / 2) + 'px';
    stage.style.transform = 'translate(-50%, -50%) scale(' + s + ')';
  }

  // ---- keeping the two windows in step: postMessage to the other window, BroadcastChannel too ----
  function send(msg) {
    msg.mytorchDeck = 1;
    var other = presenter ? window.opener : popup;
    try { if (other && !other.closed) other.postMessage(msg, '*'); } catch (err) { /* closed */ }
    if (channel) channel.postMessage(msg);
  }
  function receive(msg) {
    if (!msg || !msg.mytorchDeck) return;
    if (msg.hello && !presenter) { send({cur: cur, step: step}); return; }
    if (typeof msg.cur === 'number' && (msg.cur !== cur || msg.step !== step)) {
      quiet = true;
      go(msg.cur, msg.step);
      quiet = false;
    }
  }
  window.addEventListener('message', function (e) { receive(e.data); });
  if (channel) channel.onmessage = function (e) { receive(e.data); };

  function render() {
    showSteps(slides, cur, step);
    var want = '#' + (cur + 1) + (step ? '.' + step : '');
    if (location.hash !== want) {
      try { history.replaceState(null, '', location.pathname + location.search + want); }
      catch (err) { location.hash = want; }
    }
    var head = 'slide ' + (cur + 1) + ' / ' + slides.length +
      (maxStep(cur) ? ' \u00b7 step ' + step + ' / ' + maxStep(cur) : '');
    if (pv) {                      // "next" is what the next key press shows: a step, or the next slide
      var j = cur, t = step + 1, label;
      if (step < maxStep(cur)) label = 'next: step ' + t + ' / ' + maxStep(cur) + ' of this slide';
      else if (cur + 1 < slides.length) { j = cur + 1; t = 0; label = 'next: slide ' + (j + 1); }
      else { t = step; label = 'end of the deck'; }
      showSteps(pv.nextSlides, j, t);
      pv.nextLabel.textContent = label;
      pv.where.textContent = head;
      pv.notes.innerHTML = notesOf(cur);
      pv.notes.scrollTop = 0;
    } else {
      panel.innerHTML = '<div class="nh">Notes \u00b7 ' + head + '</div>' + notesOf(cur);
    }
    if (!quiet) send({cur: cur, step: step});
  }
  function go(i, s) {
    cur = Math.max(0, Math.min(slides.length - 1, i));
    step = s === 'end' ? maxStep(cur) : Math.max(0, Math.min(maxStep(cur), s));
    render();
  }
  function next() { if (step < maxStep(cur)) { step++; render(); } else if (cur < slides.length - 1) go(cur + 1, 0); }
  function prev() { if (step > 0) { step--; render(); } else if (cur > 0) go(cur - 1, 'end'); }
  function fromHash() {
    var m = /^#(\d+)(?:\.(\d+))?$/.exec(location.hash);
    if (m) go(+m[1] - 1, m[2] ? +m[2] : 0); else go(0, 0);
  }
  // The presenter view opens in a window of its own, placed on the other half of the screen, and the
  // audience window is left where it is: this page never moves, resizes or refocuses it. A browser
  // that leaves full screen when a window opens (Chrome does, from a full-screen page) gets it back
  // at the next key or click in the audience window.
  var fullscreenAgain = false, openedAt = 0;
  function openPresenter() {
    if (popup && !popup.closed) return;
    var url = location.href.split('#')[0].split('?')[0] + '?presenter#' + (cur + 1) + (step ? '.' + step : '');
    var sw = screen.availWidth || 1280, sh = screen.availHeight || 800;
    var w = Math.round(Math.min(1280, sw * 0.6)), h = Math.round(Math.min(800, sh * 0.8));
    var x0 = screen.availLeft || 0, y0 = screen.availTop || 0;
    var left = window.screenX + window.outerWidth / 2 > x0 + sw / 2 ? x0 : x0 + sw - w;
    openedAt = Date.now();
    popup = window.open(url, 'mytorch-presenter',
                        'popup,width=' + w + ',height=' + h + ',left=' + Math.round(left) + ',top=' + y0);
  }
  document.addEventListener('fullscreenchange', function () {
    if (!document.fullscreenElement && Date.now() - openedAt < 3000) fullscreenAgain = true;
  });
  function restoreFullscreen() {
    if (!fullscreenAgain || presenter) return false;
    fullscreenAgain = false;
    if (document.fullscreenElement) return false;
    document.documentElement.requestFullscreen().catch(function () {});
    return true;
  }

  // ---- the presenter view: current slide, next slide, notes, timer ------------------------------
  function buildPresenter() {
    document.body.classList.add('presenter');
    document.title = 'Presenter \u00b7 ' + document.title;
    var root = document.createElement('div');
    root.id = 'pv';
    root.innerHTML =
      '<div id="pv-cur" class="pv-box"></div>' +
      '<div id="pv-side"><div id="pv-bar"><span id="pv-timer" title="click: restart">00:00</span>' +
      '<span id="pv-where"></span></div><div id="pv-next-label"></div>' +
      '<div id="pv-next" class="pv-box"></div></div>' +
      '<div id="pv-notes"></div>';
    document.body.insertBefore(root, stage);
    var nextStage = stage.cloneNode(true);
    nextStage.id = 'pv-next-stage';
    nextStage.querySelectorAll('[id]').forEach(function (e) { e.setAttribute('data-id', e.id); e.removeAttribute('id'); });
    document.getElementById('pv-cur').appendChild(stage);
    document.getElementById('pv-next').appendChild(nextStage);
    pv = {cur: document.getElementById('pv-cur'), next: document.getElementById('pv-next'),
          nextStage: nextStage, nextSlides: Array.prototype.slice.call(nextStage.querySelectorAll('section.slide')),
          nextLabel: document.getElementById('pv-next-label'), where: document.getElementById('pv-where'),
          notes: document.getElementById('pv-notes'), timer: document.getElementById('pv-timer'),
          start: Date.now()};
    function tick() {
      var t = Math.floor((Date.now() - pv.start) / 1000);
      var mm = Math.floor(t / 60), ss = t % 60;
      pv.timer.textContent = (mm < 10 ? '0' : '') + mm + ':' + (ss < 10 ? '0' : '') + ss;
    }
    pv.timer.addEventListener('click', function (e) { pv.start = Date.now(); tick(); e.stopPropagation(); });
    setInterval(tick, 500);
  }

  document.addEventListener('keydown', function (e) {
    if (e.altKey || e.ctrlKey || e.metaKey) return;
    var k = e.key;
    if (restoreFullscreen() && (k === 'f' || k === 'F')) return;
    if (k === 'ArrowRight' || k === 'ArrowDown' || k === 'PageDown' || k === 'Enter' || (k === ' ' && !e.shiftKey)) next();
    else if (k === 'ArrowLeft' || k === 'ArrowUp' || k === 'PageUp' || k === 'Backspace' || k === ' ') prev();
    else if (k === 'Home') go(0, 0);
    else if (k === 'End') go(slides.length - 1, 'end');
    else if ((k === 'p' || k === 'P') && !presenter) { openPresenter(); }
    else if ((k === 'j' || k === 'k') && presenter) {     // long notes: j scrolls down, k up
      pv.notes.scrollBy(0, (k === 'j' ? 0.8 : -0.8) * pv.notes.clientHeight); return;
    }
    else if ((k === 'n' || k === 'N') && !presenter) { document.body.classList.toggle('show-notes'); fit(); return; }
    else if (k === 'f' || k === 'F') {
      if (!document.fullscreenElement) document.documentElement.requestFullscreen(); else document.exitFullscreen();
      return;
    } else return;
    e.preventDefault();
  });
  document.addEventListener('click', function (e) {
    restoreFullscreen();
    if (panel.contains(e.target) || (pv && pv.notes.contains(e.target))) return;
    if (e.clientX < window.innerWidth * 0.2) prev(); else next();
  });
  window.addEventListener('hashchange', fromHash);
  window.addEventListener('resize', fit);
  if (presenter) buildPresenter();
  fromHash();
  fit();
  if (presenter) send({hello: 1});
})();
