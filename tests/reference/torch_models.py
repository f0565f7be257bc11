"""PyTorch versions of the paper architectures with the original code's module names (SPEC §3), sized by
parameters so narrow copies can serve as test fixtures. Used only to generate fixtures."""
import torch
import torch.nn as nn
import torch.nn.functional as F


class BasicBlock(nn.Module):
    def __init__(self, cin, planes, stride, shortcut_name):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut_name = shortcut_name
        proj = nn.Sequential()
        if stride != 1 or cin != planes:
            proj = nn.Sequential(nn.Conv2d(cin, planes, 1, stride, bias=False), nn.BatchNorm2d(planes))
        if shortcut_name == "shortcut" or len(proj) > 0:
            setattr(self, shortcut_name, proj)

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        s = getattr(self, self.shortcut_name, None)
        return F.relu(y + (s(x) if s is not None and len(s) > 0 else x))


class CifarResNet(nn.Module):
    def __init__(self, blocks, widths, classes):
        super().__init__()
        self.conv1 = nn.Conv2d(3, widths[0], 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        cin = widths[0]
        for s, (n, w) in enumerate(zip(blocks, widths)):
            layers = []
            for b in range(n):
                layers.append(BasicBlock(cin, w, 2 if b == 0 and s > 0 else 1, "shortcut"))
                cin = w
            setattr(self, f"layer{s + 1}", nn.Sequential(*layers))
        self.nstages = len(blocks)
        self.classifier = nn.Linear(cin, classes)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        for s in range(self.nstages):
            x = getattr(self, f"layer{s + 1}")(x)
        return self.classifier(F.adaptive_avg_pool2d(x, 1).flatten(1))


class ImageNetResNet(nn.Module):
    def __init__(self, blocks, widths, classes):
        super().__init__()
        self.conv1 = nn.Conv2d(3, widths[0], 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        cin = widths[0]
        for s, (n, w) in enumerate(zip(blocks, widths)):
            layers = []
            for b in range(n):
                layers.append(BasicBlock(cin, w, 2 if b == 0 and s > 0 else 1, "downsample"))
                cin = w
            setattr(self, f"layer{s + 1}", nn.Sequential(*layers))
        self.fc = nn.Linear(cin, classes)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 3, 2, 1)
        for s in range(4):
            x = getattr(self, f"layer{s + 1}")(x)
        return self.fc(F.adaptive_avg_pool2d(x, 1).flatten(1))


class Bottleneck(nn.Module):
    def __init__(self, cin, growth):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(cin)
        self.conv1 = nn.Conv2d(cin, 4 * growth, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(4 * growth)
        self.conv2 = nn.Conv2d(4 * growth, growth, 3, 1, 1, bias=False)

    def forward(self, x):
        y = self.conv1(F.relu(self.bn1(x)))
        y = self.conv2(F.relu(self.bn2(y)))
        return torch.cat([x, y], 1)


class Transition(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(cin)
        self.conv1 = nn.Conv2d(cin, cout, 1, bias=False)

    def forward(self, x):
        return F.avg_pool2d(self.conv1(F.relu(self.bn1(x))), 2)


class DenseBlock(nn.Module):
    def __init__(self, n, cin, growth):
        super().__init__()
        self.layer = nn.Sequential(*[Bottleneck(cin + i * growth, growth) for i in range(n)])

    def forward(self, x):
        return self.layer(x)


class DenseNet3(nn.Module):
    def __init__(self, depth, growth, reduction, classes):
        super().__init__()
        n = (depth - 4) // 6
        c = 2 * growth
        self.conv1 = nn.Conv2d(3, c, 3, 1, 1, bias=False)
        self.block1 = DenseBlock(n, c, growth)
        c += n * growth
        self.trans1 = Transition(c, int(c * reduction))
        c = int(c * reduction)
        self.block2 = DenseBlock(n, c, growth)
        c += n * growth
        self.trans2 = Transition(c, int(c * reduction))
        c = int(c * reduction)
        self.block3 = DenseBlock(n, c, growth)
        c += n * growth
        self.bn1 = nn.BatchNorm2d(c)
        self.classifier = nn.Linear(c, classes)

    def forward(self, x):
        x = self.trans2(self.block2(self.trans1(self.block1(self.conv1(x)))))
        x = F.relu(self.bn1(self.block3(x)))
        return self.classifier(F.adaptive_avg_pool2d(x, 1).flatten(1))


class WideBasic(nn.Module):
    def __init__(self, cin, planes, stride):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(cin)
        self.conv1 = nn.Conv2d(cin, planes, 3, 1, 1, bias=True)
        self.dropout = nn.Dropout(0.0)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=True)
        self.shortcut = nn.Sequential()
        if stride != 1 or cin != planes:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, planes, 1, stride, bias=True))

    def forward(self, x):
        y = self.dropout(self.conv1(F.relu(self.bn1(x))))
        y = self.conv2(F.relu(self.bn2(y)))
        return y + self.shortcut(x)


class WideResNet(nn.Module):
    def __init__(self, depth, widen, classes):
        super().__init__()
        n = (depth - 4) // 6
        widths = [16, round(16 * widen), round(32 * widen), round(64 * widen)]
        self.conv1 = nn.Conv2d(3, 16, 3, 1, 1, bias=True)
        cin = 16
        for s in range(3):
            layers = []
            for b in range(n):
                layers.append(WideBasic(cin, widths[s + 1], 2 if b == 0 and s > 0 else 1))
                cin = widths[s + 1]
            setattr(self, f"layer{s + 1}", nn.Sequential(*layers))
        self.bn1 = nn.BatchNorm2d(cin, momentum=0.9)
        self.classifier = nn.Linear(cin, classes)

    def forward(self, x):
        x = self.layer3(self.layer2(self.layer1(self.conv1(x))))
        x = F.relu(self.bn1(x))
        return self.classifier(F.adaptive_avg_pool2d(x, 1).flatten(1))


class DisMaxHead(nn.Module):
    """DisMaxLossFirstPart (SPEC §1.5) with the original's parameter names."""

    def __init__(self, num_features, num_classes):
        super().__init__()
        self.distance_scale = nn.Parameter(torch.Tensor(1))
        nn.init.constant_(self.distance_scale, 1.0)
        self.prototypes = nn.Parameter(torch.Tensor(num_classes, num_features))
        nn.init.normal_(self.prototypes, mean=0.0, std=1.0)
        self.temperature = nn.Parameter(torch.tensor([1.0]), requires_grad=False)
        self.validationset_available = nn.Parameter(torch.tensor([False]), requires_grad=False)
        self.precomputed_thresholds = nn.Parameter(torch.full((2, 25), float("nan")), requires_grad=False)

    def forward(self, features):
        d = torch.cdist(F.normalize(features), F.normalize(self.prototypes),
                        compute_mode="donot_use_mm_for_euclid_dist") / (2 ** 0.5)
        D = self.distance_scale.abs() * d
        return -(D + D.mean(dim=1, keepdim=True)) / self.temperature
