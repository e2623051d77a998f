// Ink loads React's devtools only when DEV=true is set; berth's bundle leaves
// them out (they pull in a websocket server), and says so if someone asks.
export default {
  initialize() {
    throw new Error('berth is bundled without React devtools: run it from a checkout with the tsc build to use them');
  },
  connectToDevTools() {},
};
