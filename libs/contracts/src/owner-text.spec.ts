import { clientIdOfOwner, clientOwner, ownerHeading, ownerShown, ownerText } from './owner-text';

const hex = (text: string) => Buffer.from(text, 'utf8').toString('hex');

describe('client owner as text', () => {
  it('decodes a printable owner (ASCII or UTF-8) as text', () => {
    expect(clientOwner(hex('Linux NFSv4.2 host1'))).toEqual({ id: hex('Linux NFSv4.2 host1'), encoding: 'text', text: 'Linux NFSv4.2 host1' });
    expect(clientOwner(hex('nœud-é 名'))).toMatchObject({ encoding: 'text', text: 'nœud-é 名' });
  });

  it('keeps hex for binary owners, invalid UTF-8, control characters, bidi overrides and the empty owner', () => {
    for (const id of ['0a0b0c', 'c0ffee', hex('host\n2026 INFO forged'), hex('a\x1b[2Jb'), hex('abc\u202edef'), hex('x\u2028y'), hex('del\x7f'), '', 'ABCD', 'abc']) {
      expect(clientOwner(id)).toEqual({ id, encoding: 'hex' });
    }
  });

  it('shows text quoted (JSON-escaped) and hex bare, and says which in a heading', () => {
    expect(ownerShown(hex('Linux "NFS" \\ x'))).toBe('"Linux \\"NFS\\" \\\\ x"');
    expect(ownerShown('0a0b0c')).toBe('0a0b0c');
    expect(ownerHeading(hex('Linux NFS'))).toBe(`"Linux NFS" (owner as text, id ${hex('Linux NFS')})`);
    expect(ownerHeading('0a0b0c')).toBe('0a0b0c (owner as hex)');
    expect(ownerHeading('')).toBe('"" (owner as hex)');
  });
});

describe('ownerText (the console)', () => {
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

describe('one rule for both forms', () => {
  it('shows zero-width and private-use characters as hex (two owners must not look alike)', () => {
    for (const id of [clientIdOfOwner('host\u200ba'), clientIdOfOwner('x\ue000')]) {
      expect(clientOwner(id)).toEqual({ id, encoding: 'hex' });
      expect(ownerText(id)).toEqual({ text: id, printable: false });
    }
  });
});
