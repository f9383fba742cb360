import { clientIdOfOwner, ownerText } from './owner-text';

describe('ownerText', () => {
  it('shows a readable owner as text and its id round-trips', () => {
    const owner = 'Linux NFSv4.1 host-a.example.com';
    const id = clientIdOfOwner(owner);
    expect(id).toBe(Buffer.from(owner).toString('hex'));
    expect(ownerText(id)).toEqual({ text: owner, printable: true });
  });

  it('keeps UTF-8 text that is printable (an XSS attempt is text too: escaping is the display\'s job)', () => {
    expect(ownerText(clientIdOfOwner('héllo <img src=x onerror=alert(1)>'))).toEqual({ text: 'héllo <img src=x onerror=alert(1)>', printable: true });
  });

  it('shows hex for control characters, invalid UTF-8, bidi controls and the empty owner', () => {
    for (const id of [clientIdOfOwner('line\nbreak'), clientIdOfOwner('nul\0'), 'ff00fe', clientIdOfOwner('a\u202Eb'), '']) {
      expect(ownerText(id)).toEqual({ text: id, printable: false });
    }
  });

  it('never decodes what is not a client id', () => {
    expect(ownerText('abc')).toEqual({ text: 'abc', printable: false });
    expect(ownerText('ZZ')).toEqual({ text: 'ZZ', printable: false });
  });
});
