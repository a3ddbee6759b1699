// The console's WHEP player: the shared client (served with the viewer
// page, /watch/assets/rtc.js) logged in with the operator's token.
import { token } from './api.js';
import { WhepPlayer as Player } from '/watch/assets/rtc.js';

export class WhepPlayer extends Player {
  constructor(video, endpoint, onState) {
    super(video, endpoint, onState, token);
  }
}
