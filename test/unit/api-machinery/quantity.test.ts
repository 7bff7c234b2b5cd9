import t from 'tap';
import {
  parseQuantity, formatQuantity, compareQuantities, addQuantities, subtractQuantities, toMilliValue, toBytes, toValue, canonicalQuantity, QuantityError, isQuantity,
} from '../../../api/quantity.ts';

t.test('canonical forms match upstream serialization', async (t) => {
  const cases: [string, string][] = [
    ['0', '0'], ['0Gi', '0'], ['100m', '100m'], ['0.1', '100m'], ['1.5', '1500m'], ['1000', '1k'], ['1500', '1500'],
    ['1024Mi', '1Gi'], ['1536Mi', '1536Mi'], ['1.5Gi', '1536Mi'], ['0.5Gi', '512Mi'], ['1Ki', '1Ki'], ['512Ki', '512Ki'],
    ['1e3', '1e3'], ['1.5e3', '1500'], ['1E6', '1e6'], ['2M', '2M'], ['1000k', '1M'], ['-1', '-1'], ['-500m', '-500m'],
    ['+2', '2'], ['.5', '500m'], ['5.', '5'], ['1n', '1n'], ['0.0000000001', '1n'], ['128974848', '128974848'],
    ['129e6', '129e6'], ['129M', '129M'], ['123Mi', '123Mi'], ['100Ki', '100Ki'], ['1Ei', '1Ei'], ['1024Ei', '1024Ei'],
  ];
  for (const [input, want] of cases) t.equal(canonicalQuantity(input), want, input);
});

t.test('invalid quantities name the value and give the upstream reason', async (t) => {
  t.throws(() => parseQuantity('9'.repeat(100000)), QuantityError, 'absurdly long input is refused quickly');
  for (const bad of ['', 'abc', '1.2.3', '1 Gi', 'Gi', '1GB', '1Kii', '1e', '--1', ' 1', '1 ', '1e99999']) {
    t.throws(() => parseQuantity(bad), QuantityError, bad);
    t.notOk(isQuantity(bad));
  }
  try { parseQuantity('abc'); t.fail('no throw'); } catch (e) {
    t.match((e as Error).message, /"abc"/);
    t.match((e as QuantityError).detail, /quantities must match the regular expression/);
  }
  try { parseQuantity('1GB'); t.fail('no throw'); } catch (e) { t.match((e as QuantityError).detail, /suffix/); }
});

t.test('compare is exact across formats', async (t) => {
  t.equal(compareQuantities('1Gi', '1073741824'), 0);
  t.equal(compareQuantities('1G', '1Gi'), -1);
  t.equal(compareQuantities('1', '1000m'), 0);
  t.equal(compareQuantities('1001m', '1'), 1);
  t.equal(compareQuantities('1e3', '1k'), 0);
  t.equal(compareQuantities('-1', '0'), -1);
  t.equal(compareQuantities('0.000000001', '1n'), 0);
});

t.test('milli-values and bytes round up like upstream', async (t) => {
  t.equal(toMilliValue('100m'), 100);
  t.equal(toMilliValue('1'), 1000);
  t.equal(toMilliValue('2.5'), 2500);
  t.equal(toMilliValue('1n'), 1);
  t.equal(toBytes('128Mi'), 134217728);
  t.equal(toBytes('1G'), 1e9);
  t.equal(toBytes('1.5Ki'), 1536);
  t.equal(toValue('1500m'), 2);
  t.equal(toValue('-1500m'), -1);
});

t.test('parsed form keeps the format', async (t) => {
  t.equal(parseQuantity('1Gi').format, 'BinarySI');
  t.equal(parseQuantity('1G').format, 'DecimalSI');
  t.equal(parseQuantity('1e9').format, 'DecimalExponent');
  t.equal(formatQuantity(parseQuantity('2048')), '2048');
});

t.test('add and subtract exactly', async (t) => {
  t.equal(formatQuantity(addQuantities('1Gi', '512Mi')), '1536Mi');
  t.equal(formatQuantity(addQuantities('100m', '1')), '1100m');
  t.equal(formatQuantity(subtractQuantities('1', '250m')), '750m');
  t.equal(formatQuantity(subtractQuantities('1Gi', '1Gi')), '0');
  t.equal(compareQuantities(subtractQuantities('1', '2'), '-1'), 0);
});
