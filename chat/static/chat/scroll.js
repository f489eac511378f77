/*
 * The scroll manager of the message box: it respects the reader.
 *
 *   var scroll = d09Chat.scroll($("#messages"), $("#new-messages"));
 *   scroll.add(function () { ...add lines...; return newMessages; });
 *   scroll.add(fn, { force: true });   // the reader's own message: always to the bottom
 *   scroll.keep(fn);                   // lines inserted above the reader (scroll-back)
 *   scroll.toBottom();
 *   scroll.openAt(line);               // a line at the top of the view (unread divider)
 *   scroll.atTop();                    // the reader is at the top (older lines load)
 *
 * While the view is at the bottom (within BOTTOM_SLACK_PX), new lines keep it
 * there. When the reader has scrolled up, nothing moves what they read: the
 * line at the top of the view stays where it is on screen, and the button
 * counts the new messages ("3 new messages") until they click it or scroll
 * back down to the bottom.
 */
(function ($) {
  "use strict";

  var chat = (window.d09Chat = window.d09Chat || {});

  var BOTTOM_SLACK_PX = 40;
  var OPEN_AT_CONTEXT_PX = 16;  // how much of what was read shows above an opened line

  function Scroll($box, $button) {
    var self = this;
    self.box = $box[0];
    self.$button = $button;
    self.unseen = 0;
    self.stuck = true;  // at the bottom when last seen: a box that shrinks stays there
    $box.on("scroll", function () {
      self.stuck = self.atBottom();
      if (self.stuck) {
        self.setUnseen(0);
      }
    });
    $button.on("click", function () {
      self.toBottom();
    });
    if (window.ResizeObserver) {
      new ResizeObserver(function () {
        if (self.stuck) {
          self.toBottom();
        }
      }).observe(self.box);
    }
  }

  /* Near the top: within the same slack as the bottom. */
  Scroll.prototype.atTop = function () {
    return this.box.scrollTop <= BOTTOM_SLACK_PX;
  };

  Scroll.prototype.atBottom = function () {
    var box = this.box;
    return box.scrollHeight - box.scrollTop - box.clientHeight <= BOTTOM_SLACK_PX;
  };

  Scroll.prototype.toBottom = function () {
    this.box.scrollTop = this.box.scrollHeight;
    this.stuck = true;
    this.setUnseen(0);
  };

  /*
   * Run `change`, which adds lines and returns how many new messages it showed;
   * then follow them, or count them for the reader.
   */
  Scroll.prototype.add = function (change, options) {
    if ((options && options.force) || this.atBottom()) {
      change();
      this.toBottom();
    } else {
      var count = 0;
      this.keep(function () {
        count = change() || 0;
      });
      this.setUnseen(this.unseen + count);
    }
  };

  /*
   * Run `change` without moving what the reader looks at: the first line in
   * view (a message or a notice; separators come and go) stays exactly where
   * it is on screen, by its text (a message that joins the group of an older
   * one inserted above loses its author line: its words stay put).
   */
  Scroll.prototype.keep = function (change) {
    var box = this.box;
    var top = box.scrollTop;
    var anchor = null;
    $(box).children(".message, .notice, .unread-divider").each(function () {
      if (this.offsetTop + this.offsetHeight > top) {
        var text = $(this).children(".text, .deleted-note, .notice-text")[0] || this;
        anchor = { line: text, screenTop: text.getBoundingClientRect().top };
        return false;
      }
      return true;
    });
    change();
    box.scrollTop = top;
    if (anchor && $.contains(box, anchor.line)) {
      // Move by however far the line went (scroll positions are whole pixels
      // here: the nearest one, so the line stays within half a pixel).
      box.scrollTop = Math.round(
        top + anchor.line.getBoundingClientRect().top - anchor.screenTop
      );
    }
  };

  /* Open the view at `line`: it goes to the top of the box, with a little above it. */
  Scroll.prototype.openAt = function (line) {
    var box = this.box;
    box.scrollTop = Math.max(0, line.offsetTop - OPEN_AT_CONTEXT_PX);
    this.stuck = this.atBottom();
    if (this.stuck) {
      this.setUnseen(0);
    }
  };

  Scroll.prototype.setUnseen = function (count) {
    this.unseen = count;
    this.$button
      .text(count === 1 ? "1 new message" : count + " new messages")
      .prop("hidden", count === 0);
  };

  chat.scroll = function ($box, $button) {
    return new Scroll($box, $button);
  };
})(jQuery);
