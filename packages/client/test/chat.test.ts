import { describe, expect, it } from "vitest";
import { Emitter } from "../src/emitter.js";
import { CHAT_MAX_LENGTH, ChatRoom, Phone, type ChatWire, type SignalingClient, type SignalingEvents } from "../src/index.js";
import { StandInPeerConnection, type StandInChannel } from "./stand-in-peer-connection.js";

/**
 * One direction of a data channel between two ChatRooms: carries while open; `drop` loses what
 * is sent (a channel that dies with messages in flight), `hold` keeps them for the test.
 */
class Pipe {
  open = false;
  mode: "carry" | "drop" | "hold" = "carry";
  readonly held: ChatWire[] = [];
  readonly log: ChatWire[] = [];
  constructor(
    private readonly to: ChatRoom,
    private readonly from: string,
  ) {}
  send = (wire: ChatWire): boolean => {
    if (!this.open) return false;
    // Through JSON, as on the wire.
    const copy = JSON.parse(JSON.stringify(wire)) as ChatWire;
    this.log.push(copy);
    if (this.mode === "carry") this.to.receive(this.from, copy);
    else if (this.mode === "hold") this.held.push(copy);
    return true;
  };
  release(): void {
    for (const wire of this.held.splice(0)) this.to.receive(this.from, wire);
  }
}

/** People each with a ChatRoom, connected pairwise (a mesh), channels closed until `openAll`. */
function mesh(...ids: string[]) {
  const rooms = new Map(ids.map((id) => [id, new ChatRoom(() => id)]));
  const pipes = new Map<string, Pipe>();
  const room = (id: string) => rooms.get(id) as ChatRoom;
  const pipe = (from: string, to: string) => pipes.get(`${from}>${to}`) as Pipe;
  for (const a of ids) {
    for (const b of ids) {
      if (a === b) continue;
      const p = new Pipe(room(b), a);
      pipes.set(`${a}>${b}`, p);
      room(a).addPeer(b, { send: p.send });
    }
  }
  /** The channel between a and b opens (again), both ends hearing it as a browser would. */
  const open = (a: string, b: string) => {
    pipe(a, b).open = true;
    pipe(b, a).open = true;
    room(a).opened(b);
    room(b).opened(a);
  };
  const close = (a: string, b: string) => {
    pipe(a, b).open = false;
    pipe(b, a).open = false;
  };
  const openAll = () => {
    for (const [i, a] of ids.entries()) for (const b of ids.slice(i + 1)) open(a, b);
  };
  const texts = (id: string) => room(id).getMessages().map((m) => `${m.from}: ${m.text}`);
  return { room, pipe, open, close, openAll, texts };
}

describe("ChatRoom", () => {
  it("delivers a message once, with who sent it, and marks it sent once acknowledged", () => {
    const { room, openAll, texts } = mesh("alice", "bob");
    openAll();
    const result = room("alice").send("  hello bob  ");
    expect(result.ok).toBe(true);
    expect(texts("bob")).toEqual(["alice: hello bob"]);
    expect(room("bob").getMessages()[0]?.mine).toBe(false);
    expect(room("alice").getMessages()).toMatchObject([{ from: "alice", text: "hello bob", mine: true, status: "sent" }]);
  });

  it("ignores an empty message and refuses one over the limit, changing nothing", () => {
    const { room, openAll, texts } = mesh("alice", "bob");
    openAll();
    let notified = 0;
    room("alice").subscribe(() => (notified += 1));
    expect(room("alice").send("   \n ")).toEqual({ ok: false, reason: "empty" });
    expect(room("alice").send("x".repeat(CHAT_MAX_LENGTH + 1))).toEqual({ ok: false, reason: "too-long" });
    expect(notified).toBe(0);
    expect(texts("bob")).toEqual([]);
    // The limit counts characters as people do: 2,000 emoji fit.
    expect(room("alice").send("🍺".repeat(CHAT_MAX_LENGTH)).ok).toBe(true);
    expect(room("bob").getMessages()[0]?.text).toBe("🍺".repeat(CHAT_MAX_LENGTH));
  });

  it("keeps what is sent before the channel opens and delivers it, in order, when it does", () => {
    const { room, open, texts } = mesh("alice", "bob");
    room("alice").send("one");
    room("alice").send("two");
    expect(room("alice").getMessages().map((m) => m.status)).toEqual(["sending", "sending"]);
    open("alice", "bob");
    expect(texts("bob")).toEqual(["alice: one", "alice: two"]);
    expect(room("alice").getMessages().map((m) => m.status)).toEqual(["sent", "sent"]);
  });

  it("loses nothing when the channel dies with messages in flight: they go again when it reopens", () => {
    const { room, pipe, open, close, texts } = mesh("alice", "bob");
    open("alice", "bob");
    room("alice").send("one");
    pipe("alice", "bob").mode = "drop";
    room("alice").send("two");
    room("alice").send("three");
    close("alice", "bob");
    room("alice").send("four"); // while closed
    pipe("alice", "bob").mode = "carry";
    open("alice", "bob");
    expect(texts("bob")).toEqual(["alice: one", "alice: two", "alice: three", "alice: four"]);
    expect(room("alice").getMessages().every((m) => m.status === "sent")).toBe(true);
  });

  it("never duplicates: messages delivered whose acks were lost are dropped when resent", () => {
    const { room, pipe, open, close, texts } = mesh("alice", "bob");
    open("alice", "bob");
    pipe("bob", "alice").mode = "drop"; // bob's acks never reach alice
    room("alice").send("one");
    room("alice").send("two");
    expect(room("alice").getMessages().map((m) => m.status)).toEqual(["sending", "sending"]);
    close("alice", "bob");
    pipe("bob", "alice").mode = "carry";
    open("alice", "bob");
    room("alice").send("three");
    expect(texts("bob")).toEqual(["alice: one", "alice: two", "alice: three"]);
    expect(room("alice").getMessages().map((m) => m.status)).toEqual(["sent", "sent", "sent"]);
    // Alice did resend both on reopening (bob's ack crossed her resend): bob dropped them.
    const onTheWire = pipe("alice", "bob").log.filter((w) => w.type === "chat").map((w) => (w.type === "chat" ? w.text : ""));
    expect(onTheWire).toEqual(["one", "two", "one", "two", "three"]);
  });

  it("keeps a message whose send throws (a channel closing under it) and sends it when the channel opens", () => {
    const bob = new ChatRoom(() => "bob");
    const alice = new ChatRoom(() => "alice");
    let state: "closing" | "open" = "closing";
    alice.addPeer("bob", {
      send: (wire) => {
        if (state !== "open") throw new Error("InvalidStateError");
        bob.receive("alice", JSON.parse(JSON.stringify(wire)));
        return true;
      },
    });
    bob.addPeer("alice", { send: (wire) => (alice.receive("bob", JSON.parse(JSON.stringify(wire))), true) });
    expect(alice.send("hi").ok).toBe(true);
    expect(alice.getMessages()[0]?.status).toBe("sending");
    state = "open";
    alice.opened("bob");
    expect(bob.getMessages().map((m) => m.text)).toEqual(["hi"]);
    expect(alice.getMessages()[0]?.status).toBe("sent");
  });

  it("holds a message that overtakes an earlier one until the earlier one arrives", () => {
    const { room, pipe, open, texts } = mesh("alice", "bob");
    open("alice", "bob");
    pipe("alice", "bob").mode = "hold";
    room("alice").send("one");
    room("alice").send("two");
    const [one, two] = pipe("alice", "bob").held.splice(0);
    room("bob").receive("alice", two);
    expect(texts("bob")).toEqual([]);
    room("bob").receive("alice", one);
    room("bob").receive("alice", two); // and once more, late
    expect(texts("bob")).toEqual(["alice: one", "alice: two"]);
  });

  it("sends to everyone in a group call, and each sees who wrote what, in each sender's order", () => {
    const { room, openAll, texts } = mesh("alice", "bob", "carol");
    openAll();
    room("alice").send("hi all");
    room("bob").send("hi alice");
    room("carol").send("hello");
    room("alice").send("how are you?");
    expect(texts("bob")).toEqual(["alice: hi all", "bob: hi alice", "carol: hello", "alice: how are you?"]);
    expect(texts("carol")).toEqual(["alice: hi all", "bob: hi alice", "carol: hello", "alice: how are you?"]);
    expect(texts("alice")).toEqual(["alice: hi all", "bob: hi alice", "carol: hello", "alice: how are you?"]);
  });

  it("numbers messages per connection: someone who joins later gets the next one, not a gap", () => {
    const { room, openAll, texts } = mesh("alice", "bob");
    openAll();
    room("alice").send("before dave");
    const dave = new ChatRoom(() => "dave");
    room("alice").addPeer("dave", { send: (wire) => (dave.receive("alice", JSON.parse(JSON.stringify(wire))), true) });
    dave.addPeer("alice", { send: (wire) => (room("alice").receive("dave", JSON.parse(JSON.stringify(wire))), true) });
    room("alice").send("welcome dave");
    expect(dave.getMessages().map((m) => m.text)).toEqual(["welcome dave"]);
    expect(texts("bob")).toEqual(["alice: before dave", "alice: welcome dave"]);
  });

  it("counts a message sent once everyone still in the call has it, even if one left meanwhile", () => {
    const { room, pipe, openAll } = mesh("alice", "bob", "carol");
    openAll();
    pipe("alice", "carol").mode = "drop";
    room("alice").send("hi");
    expect(room("alice").getMessages()[0]?.status).toBe("sending");
    room("alice").removePeer("carol");
    expect(room("alice").getMessages()[0]?.status).toBe("sent");
  });

  it("does not wait on an invitee still ringing to count a message sent; they get it when they join", () => {
    const { room, open, texts } = mesh("alice", "bob", "carol");
    open("alice", "bob");
    room("alice").send("carol is ringing");
    expect(room("alice").getMessages()[0]?.status).toBe("sent");
    open("alice", "carol");
    expect(texts("carol")).toEqual(["alice: carol is ringing"]);
  });

  it("ignores what is not a chat message, and anything from someone not in the call", () => {
    const { room, openAll, texts } = mesh("alice", "bob");
    openAll();
    for (const junk of [null, 3, "x", { type: "chat", seq: 1 }, { type: "chat", seq: -1, text: "a", sentAt: 0 }, { type: "other", seq: 1 }]) {
      room("bob").receive("alice", junk);
    }
    room("bob").receive("mallory", { type: "chat", seq: 1, text: "hi", sentAt: 0 });
    expect(texts("bob")).toEqual([]);
  });

  it("forgets the call's messages on reset", () => {
    const { room, openAll } = mesh("alice", "bob");
    openAll();
    room("alice").send("hi");
    room("alice").reset();
    expect(room("alice").getMessages()).toEqual([]);
    expect(room("alice").send("anyone?")).toEqual({ ok: false, reason: "no-call" });
  });
});

/** The part of SignalingClient a Phone uses to place a call. */
class StandInSignaling extends Emitter<SignalingEvents> {
  state = "online";
  user = "alice";
  rtcConfiguration = {};
  sendOffer = async () => "call-1";
  sendAnswer = async () => {};
  sendIceCandidates = async () => {};
  endCall = async () => {};
}

describe("Phone's chat over PeerCall", () => {
  it("rides a negotiated channel of its own, re-sends on reopen, and ends with the call", () => {
    const signaling = new StandInSignaling();
    const phone = new Phone({
      signaling: signaling as unknown as SignalingClient,
      RTCPeerConnection: StandInPeerConnection as unknown as typeof RTCPeerConnection,
    });
    phone.call("bob");
    const pc = StandInPeerConnection.last as StandInPeerConnection;
    const chat = pc.channels.find((c) => c.label === "chat") as StandInChannel;
    expect(chat.init).toEqual({ negotiated: true, id: 1 });
    // Its id is not the control channel's.
    expect(pc.channels.find((c) => c.label === "control")?.init?.id).toBe(0);

    expect(phone.sendChat("hi bob").ok).toBe(true);
    expect(chat.sent).toEqual([]); // not open yet: waits
    chat.open();
    expect(chat.sent.map((d) => JSON.parse(d))).toMatchObject([
      { type: "chat-ack", seq: 0 },
      { type: "chat", seq: 1, text: "hi bob" },
    ]);
    chat.deliver(JSON.stringify({ type: "chat", seq: 1, text: "hi alice", sentAt: 1 }));
    chat.deliver("not json");
    expect(phone.chat.getMessages().map((m) => `${m.from}: ${m.text}`)).toEqual(["alice: hi bob", "bob: hi alice"]);

    // The channel comes back (say, a new association): what bob has not acknowledged goes again.
    chat.readyState = "closed";
    chat.sent.length = 0;
    chat.open();
    expect(chat.sent.map((d) => JSON.parse(d))).toMatchObject([
      { type: "chat-ack", seq: 1 },
      { type: "chat", seq: 1, text: "hi bob" },
    ]);
    chat.deliver(JSON.stringify({ type: "chat-ack", seq: 1 }));
    expect(phone.chat.getMessages()[0]?.status).toBe("sent");

    phone.hangUp();
    expect(phone.chat.getMessages()).toEqual([]);
    phone.dispose();
  });
});
